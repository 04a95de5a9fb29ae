using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Sluice.Engine.Models;
using Sluice.Engine.Serving;
using Sluice.Server.Chat;

namespace Sluice.Server.Hosting;

/// <summary>
/// The one model this server serves and its engine, through their life (see <see cref="ServerState"/>):
/// loaded in the background after the listener is up, so probes answer (503) while it loads.
/// </summary>
public sealed partial class ModelHost : IDisposable
{
    private readonly Func<LoadedModel> _load;
    private readonly EngineOptions _engineOptions;
    private readonly ServerOptions _options;
    private readonly ILogger _log;
    private readonly TaskCompletionSource _settled = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile int _state = (int)ServerState.Loading;
    private LoadedModel? _model;
    private LlmEngine? _engine;

    public ModelHost(Func<LoadedModel> load, EngineOptions engineOptions, ServerOptions options, ILogger<ModelHost> log)
    {
        _load = load;
        _engineOptions = engineOptions with { Time = options.Time };
        _options = options;
        _log = log;
        Names = options.ServedModelNames;
        Digest = new ModelDigest(options.ModelPath);
    }

    /// <summary>The model's SHA-256, computed in the background once it is ready.</summary>
    public ModelDigest Digest { get; }

    public ServerState State => (ServerState)_state;

    /// <summary>Why loading failed, when <see cref="State"/> is Failed.</summary>
    public string? Failure { get; private set; }

    /// <summary>The served names, the first reported in responses; known once loaded unless given.</summary>
    public IReadOnlyList<string> Names { get; private set; }

    public string Name => Names.Count > 0 ? Names[0] : "(loading)";

    public LoadedModel? Model => _model;

    /// <summary>The engine, once loaded (null while loading or after a failed load).</summary>
    public LlmEngine? Engine => _engine;

    public ChatPromptBuilder? Chat { get; private set; }

    /// <summary>How long loading took (model and engine), for logs and /health.</summary>
    public TimeSpan LoadTime { get; private set; }

    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, double> _startup = new();

    /// <summary>Seconds each start-up phase took, once it has run: "load" (reading the model), "pack" (packing the weights or mapping the packed-weights cache), "warmup".</summary>
    public IReadOnlyDictionary<string, double> StartupSeconds => _startup;

    /// <summary>What the packed-weights cache did at load (null until then).</summary>
    public PackedCacheReport? PackedWeights { get; private set; }

    /// <summary>Completes when the model is Ready or Failed.</summary>
    public Task Settled => _settled.Task;

    /// <summary>Loads the model, starts the engine and warms it up; failures leave the host Failed with the reason.</summary>
    internal async Task LoadAsync(CancellationToken stopping)
    {
        string loading = Names.Count > 0 ? Names[0] : _options.ModelPath ?? "demo";
        LogLoading(_log, loading);
        try
        {
            var watch = Stopwatch.StartNew();
            _model = await Task.Run(_load, stopping);
            Digest.MarkLoaded();
            _startup["load"] = watch.Elapsed.TotalSeconds;
            // pack the weights for the fast kernels now, through the packed-weights cache, not on the first requests
            var packed = await Task.Run(() => PackedWeightsCache.Prepare(_model, _options.PackedWeightsCache), stopping);
            PackedWeights = packed;
            _startup["pack"] = packed.Elapsed.TotalSeconds;
            LogPacked(_log, packed);
            _engine = new LlmEngine(_model, _engineOptions);
            Chat = new ChatPromptBuilder(_model.Tokenizer, _log);
            if (Names.Count == 0)
            {
                Names = [_model.Name];
            }
            LoadTime = watch.Elapsed;
            LogLoaded(_log, Name, _model.Format, _engine.MaxModelLen, _engine.KvBlocks, _engine.KvCacheBytes / (1024.0 * 1024.0), LoadTime.TotalSeconds);
            LogKernels(_log, Sluice.Engine.Kernels.Simd.Path, Sluice.Engine.Kernels.Simd.Describe(), Sluice.Engine.Kernels.CpuInfo.Model, _engine.Threads);
            if (_model.Format == "demo")
            {
                LogDemo(_log, _model.Name, _model.Description ?? "the built-in demo model");
            }
            if (_options.Warmup && TrySetState(ServerState.Loading, ServerState.WarmingUp))
            {
                var took = await Warmup.RunAsync(_engine, Chat, _model.Tokenizer, stopping);
                _startup["warmup"] = took.TotalSeconds;
                LogWarmedUp(_log, took.TotalMilliseconds);
            }
            if (TrySetState(ServerState.WarmingUp, ServerState.Ready) || TrySetState(ServerState.Loading, ServerState.Ready))
            {
                LogReady(_log, Name);
                Digest.StartInBackground();
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            Failure = ex.Message;
            _state = (int)ServerState.Failed;
            LogLoadFailed(_log, Names.Count > 0 ? Names[0] : loading, ex.Message);
        }
        finally
        {
            _settled.TrySetResult();
        }
    }

    /// <summary>Stops taking new requests (SIGTERM): readiness fails and new requests get 503.</summary>
    internal void BeginDrain()
    {
        if (TrySetState(ServerState.Ready, ServerState.Draining) || TrySetState(ServerState.WarmingUp, ServerState.Draining))
        {
            return;
        }
        TrySetState(ServerState.Loading, ServerState.Draining);
    }

    internal void MarkStopped() => _state = (int)ServerState.Stopped;

    private bool TrySetState(ServerState from, ServerState to) =>
        Interlocked.CompareExchange(ref _state, (int)to, (int)from) == (int)from;

    public void Dispose()
    {
        MarkStopped();
        Interlocked.Exchange(ref _engine, null)?.Dispose();
        if (Interlocked.Exchange(ref _model, null) is { } model)
        {
            model.Dispose();
            LogUnloaded(_log, Name, model.Format);
        }
    }

    // "model loading", "model loaded", "model ready" and "model failed" are what runbooks grep for: keep the words together

    [LoggerMessage(EventId = 8, EventName = "model_loading", Level = LogLevel.Information, Message = "model loading: {Model}")]
    private static partial void LogLoading(ILogger log, string model);

    [LoggerMessage(EventId = 1, EventName = "model_loaded", Level = LogLevel.Information, Message = "model loaded: {Model} ({Format}), max-model-len {MaxModelLen}, {Blocks} KV blocks ({KvMib:F0} MiB), in {Seconds:F2} s")]
    private static partial void LogLoaded(ILogger log, string model, string format, int maxModelLen, int blocks, double kvMib, double seconds);

    [LoggerMessage(EventId = 7, EventName = "kernels", Level = LogLevel.Information, Message = "Kernels: {KernelPath} ({Kernels}) on {Cpu}, {Threads} threads")]
    private static partial void LogKernels(ILogger log, string kernelPath, string kernels, string cpu, int threads);

    [LoggerMessage(EventId = 2, Level = LogLevel.Warning, Message = "Serving {Model}, {Description}. Pass --model FILE.gguf or a Hugging Face folder for a real model")]
    private static partial void LogDemo(ILogger log, string model, string description);

    private static void LogPacked(ILogger log, PackedCacheReport r)
    {
        double mib = r.PackedBytes / (1024.0 * 1024.0), seconds = r.Elapsed.TotalSeconds;
        switch (r.Outcome)
        {
            case PackedCacheOutcome.Hit:
                LogPackedMapped(log, r.File!, mib, seconds);
                break;
            case PackedCacheOutcome.Built:
                LogPackedBuilt(log, mib, seconds, r.File!);
                break;
            case PackedCacheOutcome.Disabled:
                LogPackedPrivately(log, mib, seconds, "--packed-weights-cache off");
                break;
            case PackedCacheOutcome.Failed:
                LogPackedCacheFailed(log, mib, seconds, r.Reason ?? "unknown");
                break;
            case PackedCacheOutcome.NothingToPack:
                break;
        }
    }

    [LoggerMessage(EventId = 9, EventName = "packed_weights_mapped", Level = LogLevel.Information, Message = "packed weights: mapped {File} ({Mib:F0} MiB) in {Seconds:F2} s")]
    private static partial void LogPackedMapped(ILogger log, string file, double mib, double seconds);

    [LoggerMessage(EventId = 10, EventName = "packed_weights_built", Level = LogLevel.Information, Message = "packed weights: packed {Mib:F0} MiB in {Seconds:F2} s and wrote {File}; later starts map it")]
    private static partial void LogPackedBuilt(ILogger log, double mib, double seconds, string file);

    [LoggerMessage(EventId = 11, EventName = "packed_weights_private", Level = LogLevel.Information, Message = "packed weights: packed {Mib:F0} MiB into private memory in {Seconds:F2} s ({Why})")]
    private static partial void LogPackedPrivately(ILogger log, double mib, double seconds, string why);

    [LoggerMessage(EventId = 12, EventName = "packed_weights_cache_failed", Level = LogLevel.Warning, Message = "packed weights: packed {Mib:F0} MiB into private memory in {Seconds:F2} s; the packed-weights cache is not used: {Reason}")]
    private static partial void LogPackedCacheFailed(ILogger log, double mib, double seconds, string reason);

    [LoggerMessage(EventId = 3, Level = LogLevel.Information, Message = "Warm-up finished in {Milliseconds:F0} ms")]
    private static partial void LogWarmedUp(ILogger log, double milliseconds);

    [LoggerMessage(EventId = 4, EventName = "ready", Level = LogLevel.Information, Message = "model ready: {Model}")]
    private static partial void LogReady(ILogger log, string model);

    [LoggerMessage(EventId = 5, EventName = "model_load_failed", Level = LogLevel.Critical, Message = "model failed: {Model}: {Reason}")]
    private static partial void LogLoadFailed(ILogger log, string model, string reason);

    [LoggerMessage(EventId = 6, EventName = "model_unloaded", Level = LogLevel.Information, Message = "Model {Model} ({Format}) unloaded")]
    private static partial void LogUnloaded(ILogger log, string model, string format);
}
