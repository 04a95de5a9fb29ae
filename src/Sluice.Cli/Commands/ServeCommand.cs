using System.CommandLine;
using Microsoft.Extensions.Logging;
using Sluice.Cli.Options;
using Sluice.Cli.Verification;
using Sluice.Engine.Caching;
using Sluice.Engine.Scheduling;
using Sluice.Engine.Serving;
using Sluice.Hosting.Auth;
using Sluice.Server;
using Sluice.Server.Hosting;
using Sluice.Server.Observability;

namespace Sluice.Cli.Commands;

/// <summary>
/// `sluice serve`: the OpenAI-compatible server. Flag names are vLLM's where vLLM has one; every flag
/// can also come from a YAML file (--config), the command line winning.
/// </summary>
internal sealed class ServeCommand
{
    private readonly Option<string?> _config = new("--config") { Description = "YAML file of settings (option names without dashes); the command line wins" };
    private readonly Option<string?> _model = new("--model", "-m") { Description = "GGUF file or Hugging Face folder (default: the built-in demo model, whose output is not meaningful)" };
    private readonly Option<string[]> _names = new("--served-model-name") { Description = "Name(s) clients use for the model; the first is reported (default: the file name)" };
    private readonly Option<string> _host = new("--host") { Description = "Address to bind", DefaultValueFactory = _ => "127.0.0.1" };
    private readonly Option<int> _port = new("--port") { Description = "Port (0 picks a free one)", DefaultValueFactory = _ => 8000 };
    private readonly Option<int?> _maxModelLen = new("--max-model-len") { Description = "Prompt plus output tokens per sequence (default: the model's context, as far as the KV cache holds)" };
    private readonly Option<int?> _maxNumSeqs = new("--max-num-seqs") { Description = "Sequences running at once (default 64)" };
    private readonly Option<int?> _maxBatchedTokens = new("--max-num-batched-tokens") { Description = "Tokens per engine step (default 512)" };
    private readonly Option<int?> _blockSize = new("--block-size") { Description = "Tokens per KV block (default 16)" };
    private readonly Option<string?> _kvMemory = new("--kv-cache-memory") { Description = "KV cache size, e.g. 2GiB (default: a quarter of available memory)" };
    private readonly Option<string?> _kvType = new("--kv-cache-dtype") { Description = "f16 (default) or f32" };
    private readonly Option<bool?> _prefixCaching = new("--enable-prefix-caching") { Description = "Reuse KV blocks of shared prompt prefixes (default on)" };
    private readonly Option<bool> _noPrefixCaching = new("--no-enable-prefix-caching") { Description = "Turn prefix caching off" };
    private readonly Option<int?> _threads = new("--threads", "-t") { Description = "Kernel threads (default: all cores)" };
    private readonly Option<string?> _policy = new("--scheduling-policy") { Description = "fcfs (default) or priority" };
    private readonly Option<int?> _maxQueued = new("--max-num-queued-reqs") { Description = "Sequences that may wait beyond --max-num-seqs before 429 (default 256)" };
    private readonly Option<long?> _maxQueuedTokens = new("--max-num-queued-tokens") { Description = "Prompt tokens that may wait for prefill before 429 (default: unbounded)" };
    private readonly Option<double?> _requestTimeout = new("--request-timeout") { Description = "Seconds a request may run before it ends with a timeout error (default: none)" };
    private readonly Option<double?> _stallTimeout = new("--stall-timeout") { Description = "Readiness fails when work is pending and no engine step finished for this many seconds (default 60)" };
    private readonly Option<double?> _shutdownTimeout = new("--shutdown-timeout", "--drain-timeout") { Description = "Seconds SIGTERM waits for in-flight requests before aborting them (default 30; 0 aborts at once)" };
    private readonly Option<string[]> _apiKeys = new("--api-key") { Description = "API key clients must send as 'Authorization: Bearer KEY' (repeatable)" };
    private readonly Option<string?> _apiKeyFile = new("--api-key-file") { Description = "File of API keys, one a line; re-read when it changes" };
    private readonly Option<double?> _keyGrace = new("--api-key-grace-period") { Description = "Seconds a key removed from --api-key-file stays valid (default 300)" };
    private readonly Option<string[]> _openPaths = new("--open-path") { Description = "Path served without a key when keys are set (repeatable; default: the /health probes)" };
    private readonly Option<string?> _sslCert = new("--ssl-certfile") { Description = "PEM certificate: serve HTTPS (reloaded when it changes)" };
    private readonly Option<string?> _sslKey = new("--ssl-keyfile") { Description = "PEM private key of --ssl-certfile" };
    private readonly Option<string?> _maxBody = new("--max-request-body-size") { Description = "Largest request body, e.g. 8MiB (default); larger gets 413" };
    private readonly Option<int?> _metricsPort = Flags.OptionalInt("--metrics-port", 0, 65535,
        "Also listen on this port, plain HTTP, serving only /metrics and the health probes without the key (for scrapers and kubelets when --port has TLS and a key)");
    private readonly Option<int?> _maxOutputTokens = Flags.OptionalInt("--max-output-tokens", 1, int.MaxValue,
        "Default max_tokens of every route and the most a request may ask for (default: 16 for completions, the rest of the context for chat, no ceiling)");
    private readonly Option<bool> _perRequestMetrics = new("--enable-per-request-metrics") { Description = "Responses carry queue, prefill and decode times" };
    private readonly Option<string?> _packedCache = new("--packed-weights-cache")
    {
        Description = "Folder where the weights repacked for the fast kernels are kept and memory-mapped, shared by restarts and replicas (default ~/.cache/sluice/packed, or $SLUICE_CACHE_DIR/packed); 'off' packs into private memory at every start",
    };
    private readonly Option<bool> _noWarmup = new("--no-warmup") { Description = "Report ready without the warm-up generation" };
    private readonly Option<string?> _embeddingPooling = new("--embedding-pooling")
    {
        Description = "How /v1/embeddings pools the final hidden states: last (default, the last token's, as vLLM pools decoder-only models) or mean",
    };
    private readonly Option<string?> _reasoningParser = new("--reasoning-parser")
    {
        Description = "Split chat answers' thinking into reasoning_content, as vLLM: qwen3 or deepseek_r1 (default: none)",
    };
    private readonly Option<string> _logLevel = new("--log-level") { Description = "trace, debug, info, warning or error", DefaultValueFactory = _ => "info" };
    private readonly Option<string?> _verifyChecksum = new("--verify-checksum") { Description = "Refuse to serve a model file whose SHA-256 differs: a hex digest, or a manifest in sha256sum's format" };
    private readonly Option<string?> _quantization = new("--quantization", "-q")
    {
        Description = "Convert the model's F32/F16/BF16 weights at load: q8_0, q4_0, q4_k_m... (pre-quantized awq, gptq, bitsandbytes checkpoints are refused)",
    };
    private readonly Option<bool> _checkConfig = new("--check-config")
    {
        Description = "Check the flags, environment, config file, the model's header and checksum, the TLS and key files, print the effective configuration and exit (non-zero on an error)",
    };
    private readonly ObservabilityFlags _observability = new();

    public static Command Create() => new ServeCommand().Build();

    private Command Build()
    {
        var cmd = new Command("serve", "Serve a model over an OpenAI-compatible HTTP API (/v1/completions, /v1/chat/completions, /v1/models, health probes).")
        {
            _config, _model, _names, _host, _port, _maxModelLen, _maxNumSeqs, _maxBatchedTokens, _blockSize, _kvMemory, _kvType,
            _prefixCaching, _noPrefixCaching, _threads, _policy, _maxQueued, _maxQueuedTokens, _requestTimeout, _stallTimeout,
            _shutdownTimeout, _apiKeys, _apiKeyFile, _keyGrace, _openPaths, _sslCert, _sslKey, _metricsPort, _maxBody, _maxOutputTokens, _perRequestMetrics,
            _embeddingPooling, _reasoningParser, _noWarmup, _packedCache, _logLevel, _verifyChecksum, _quantization, _checkConfig,
        };
        foreach (var option in _observability.All)
        {
            cmd.Options.Add(option);
        }
        // synchronous on purpose: SIGTERM then belongs to the host, which drains, rather than to the command line's 2 s kill
        cmd.SetAction(parse => RunAsync(parse, cmd).GetAwaiter().GetResult());
        return cmd;
    }

    private async Task<int> RunAsync(ParseResult parse, Command cmd)
    {
        var stdout = parse.InvocationConfiguration.Output;
        var stderr = parse.InvocationConfiguration.Error;
        return await CliErrors.RunAsync(parse, async () =>
        {
            // flag > SLUICE_<FLAG> > --config file
            (parse, var settings) = EffectiveConfig.Resolve(parse, cmd, _config, Environment.GetEnvironmentVariables());
            string keyOrigin = settings.First(x => x.Name == "api-key").Source switch
            {
                "config" => $"api-key in {parse.GetValue(_config)}",
                "environment" => EnvironmentFlags.Variable(_apiKeys),
                _ => "--api-key",
            };
            if (parse.GetValue(_checkConfig))
            {
                return CheckConfig(parse, settings, keyOrigin, stdout, stderr);
            }
            var options = _observability.Apply(parse, ServerOptionsFrom(parse)) with { Settings = settings };
            foreach (var key in options.ApiKeys)
            {
                FileApiKeyStore.RequireKey(key, keyOrigin);
            }
            var engine = EngineOptionsFrom(parse);
            engine.Validate(); // before listening: the engine would refuse them only once the model has loaded
            var observability = _observability.Read(parse);
            string? modelPath = parse.GetValue(_model);
            string? checksum = parse.GetValue(_verifyChecksum);
            var loadOptions = ModelCommands.LoadOptions(parse.GetValue(_quantization));
            if (loadOptions.Quantization is not null && modelPath is null)
            {
                throw new ArgumentException("--quantization converts a model's weights at load: it needs --model");
            }
            if (checksum is not null && modelPath is null)
            {
                throw new ArgumentException("--verify-checksum needs --model (the demo model has no file to check)");
            }
            await using var server = SluiceServer.Create(options, engine, () =>
            {
                if (checksum is not null)
                {
                    ModelChecksum.Require(modelPath!, checksum);
                }
                return ModelSource.Load(modelPath, stderr, loadOptions);
            }, SluiceObservability.Hooks(observability));
            await server.StartAsync();
            foreach (var address in server.Addresses)
            {
                stdout.WriteLine($"sluice: listening on {address}");
            }
            stdout.Flush();
            var shutdown = server.WaitForShutdownAsync();
            await Task.WhenAny(server.Host.Settled, shutdown);
            if (server.Host.State == ServerState.Failed)
            {
                stderr.WriteLine("error: " + server.Host.Failure);
                await server.StopAsync();
                return 1;
            }
            await shutdown;
            stdout.WriteLine("sluice: stopped");
            return 0;
        });
    }

    /// <summary>
    /// `serve --check-config`: every check a start would make before serving, without listening or loading the weights;
    /// prints the effective configuration and each problem; exit 0 when there is none, 2 otherwise.
    /// </summary>
    private int CheckConfig(ParseResult parse, IReadOnlyList<Server.ConfigSetting> settings, string keyOrigin, TextWriter stdout, TextWriter stderr)
    {
        var problems = new List<string>();
        var warnings = new List<string>();
        void Check(Action check)
        {
            try
            {
                check();
            }
            catch (Exception ex) when (ex is ArgumentException or FormatException or IOException or UnauthorizedAccessException or InvalidDataException
                or System.Security.Cryptography.CryptographicException or Engine.Formats.ModelFormatException or InvalidOperationException)
            {
                problems.Add(ex.Message);
            }
        }
        Check(() => _ = _observability.Apply(parse, ServerOptionsFrom(parse)));
        Check(() => _observability.Read(parse));
        Check(() => EngineOptionsFrom(parse).Validate());
        Check(() => ModelCommands.LoadOptions(parse.GetValue(_quantization)));
        foreach (var key in parse.GetValue(_apiKeys) ?? [])
        {
            Check(() => FileApiKeyStore.RequireKey(key, keyOrigin));
        }
        if (parse.GetValue(_apiKeyFile) is { } keyFile)
        {
            Check(() => _ = File.ReadAllLines(keyFile));
        }
        string? cert = parse.GetValue(_sslCert), key2 = parse.GetValue(_sslKey);
        if ((cert is null) != (key2 is null))
        {
            problems.Add("--ssl-certfile and --ssl-keyfile go together: give both or neither");
        }
        else if (cert is not null)
        {
            Check(() =>
            {
                using var certificate = Hosting.Tls.CertificateReloader.Load(cert, key2!);
                var now = DateTime.UtcNow;
                if (certificate.NotAfter.ToUniversalTime() < now)
                {
                    problems.Add($"--ssl-certfile {cert}: the certificate expired on {certificate.NotAfter.ToUniversalTime():yyyy-MM-dd HH:mm} UTC");
                }
                else if (certificate.NotBefore.ToUniversalTime() > now)
                {
                    problems.Add($"--ssl-certfile {cert}: the certificate is not valid before {certificate.NotBefore.ToUniversalTime():yyyy-MM-dd HH:mm} UTC");
                }
                else if (certificate.NotAfter.ToUniversalTime() < now.AddDays(14))
                {
                    warnings.Add($"--ssl-certfile {cert}: the certificate expires on {certificate.NotAfter.ToUniversalTime():yyyy-MM-dd HH:mm} UTC, in less than 14 days");
                }
            });
        }
        string? model = parse.GetValue(_model);
        if (model is not null)
        {
            Check(() =>
            {
                if (Directory.Exists(model))
                {
                    _ = Engine.Models.HuggingFace.HfConfigReader.Read(Path.Combine(model, "config.json"));
                }
                else
                {
                    using var gguf = Engine.Formats.Gguf.GgufFile.Open(model);
                    _ = Engine.Models.ModelConfig.FromGguf(gguf);
                }
            });
            if (parse.GetValue(_verifyChecksum) is { } checksum)
            {
                Check(() => ModelChecksum.Require(model, checksum));
            }
        }
        else if (parse.GetValue(_verifyChecksum) is not null)
        {
            problems.Add("--verify-checksum needs --model (the demo model has no file to check)");
        }
        stdout.WriteLine("effective configuration (flag > environment > config file > default):");
        stdout.Write(EffectiveConfig.Text(settings));
        foreach (var warning in warnings)
        {
            stderr.WriteLine("warning: " + warning);
        }
        foreach (var problem in problems)
        {
            stderr.WriteLine("error: " + problem);
        }
        stdout.WriteLine(problems.Count == 0 ? "check-config: OK" : $"check-config: {problems.Count} problem{(problems.Count == 1 ? "" : "s")}");
        return problems.Count == 0 ? 0 : CliErrors.UsageError;
    }

    private ServerOptions ServerOptionsFrom(ParseResult p)
    {
        var defaults = new ServerOptions();
        string[] open = p.GetValue(_openPaths) ?? [];
        return new ServerOptions
        {
            Host = p.GetValue(_host)!,
            Port = p.GetValue(_port),
            ModelPath = p.GetValue(_model),
            ServedModelNames = p.GetValue(_names) ?? [],
            ApiKeys = p.GetValue(_apiKeys) ?? [],
            ApiKeyFile = p.GetValue(_apiKeyFile),
            ApiKeyGracePeriod = Seconds(p.GetValue(_keyGrace)) ?? defaults.ApiKeyGracePeriod,
            OpenPaths = open.Length > 0 ? open : defaults.OpenPaths,
            SslCertFile = p.GetValue(_sslCert),
            SslKeyFile = p.GetValue(_sslKey),
            MaxNumQueuedReqs = p.GetValue(_maxQueued) ?? defaults.MaxNumQueuedReqs,
            MaxNumQueuedTokens = p.GetValue(_maxQueuedTokens),
            RequestTimeout = Seconds(p.GetValue(_requestTimeout)),
            StallTimeout = Seconds(p.GetValue(_stallTimeout)) ?? defaults.StallTimeout,
            ShutdownTimeout = Seconds(p.GetValue(_shutdownTimeout)) ?? defaults.ShutdownTimeout,
            MaxRequestBodySize = p.GetValue(_maxBody) is { } body ? ByteSize.Parse(body, "--max-request-body-size") : defaults.MaxRequestBodySize,
            MaxOutputTokens = p.GetValue(_maxOutputTokens),
            EmbeddingPooling = p.GetValue(_embeddingPooling)?.ToLowerInvariant() switch
            {
                null or "last" => EmbeddingPooling.Last,
                "mean" => EmbeddingPooling.Mean,
                var e => throw new FormatException($"--embedding-pooling '{e}': use last or mean"),
            },
            ReasoningParser = p.GetValue(_reasoningParser) is { } rp ? Sluice.Server.Chat.Reasoning.ReasoningParser.Parse(rp) : null,
            MetricsPort = p.GetValue(_metricsPort),
            EnablePerRequestMetrics = p.GetValue(_perRequestMetrics),
            Warmup = !p.GetValue(_noWarmup),
            PackedWeightsCache = p.GetValue(_packedCache) switch
            {
                null => Engine.Models.PackedWeightsCache.DefaultFolder(),
                var off when off.Equals("off", StringComparison.OrdinalIgnoreCase) || off.Equals("none", StringComparison.OrdinalIgnoreCase) => null,
                "" => throw new FormatException("--packed-weights-cache: give a folder, or 'off'"),
                var folder => Path.GetFullPath(folder),
            },
            LogLevel = p.GetValue(_logLevel)!.ToLowerInvariant() switch
            {
                "trace" => LogLevel.Trace,
                "debug" => LogLevel.Debug,
                "info" or "information" => LogLevel.Information,
                "warning" or "warn" => LogLevel.Warning,
                "error" => LogLevel.Error,
                var l => throw new FormatException($"--log-level '{l}': use trace, debug, info, warning or error"),
            },
        };
    }

    private EngineOptions EngineOptionsFrom(ParseResult p)
    {
        var d = new EngineOptions();
        return new EngineOptions
        {
            MaxNumSeqs = p.GetValue(_maxNumSeqs) ?? d.MaxNumSeqs,
            MaxNumBatchedTokens = p.GetValue(_maxBatchedTokens) ?? d.MaxNumBatchedTokens,
            MaxModelLen = p.GetValue(_maxModelLen),
            BlockSize = p.GetValue(_blockSize) ?? d.BlockSize,
            KvCacheMemory = p.GetValue(_kvMemory) is { } kv ? ByteSize.Parse(kv, "--kv-cache-memory") : null,
            KvCacheType = p.GetValue(_kvType)?.ToLowerInvariant() switch
            {
                null or "f16" or "auto" => KvCacheType.F16,
                "f32" => KvCacheType.F32,
                "q8_0" or "fp8" => KvCacheType.Q8_0,
                var t => throw new FormatException($"--kv-cache-dtype '{t}': use f16, f32 or q8_0"),
            },
            EnablePrefixCaching = !p.GetValue(_noPrefixCaching) && (p.GetValue(_prefixCaching) ?? d.EnablePrefixCaching),
            Threads = p.GetValue(_threads),
            SchedulingPolicy = p.GetValue(_policy)?.ToLowerInvariant() switch
            {
                null or "fcfs" => SchedulingPolicy.Fcfs,
                "priority" => SchedulingPolicy.Priority,
                var s => throw new FormatException($"--scheduling-policy '{s}': use fcfs or priority"),
            },
        };
    }

    private static TimeSpan? Seconds(double? seconds) =>
        seconds is { } s ? (s >= 0 && double.IsFinite(s) ? TimeSpan.FromSeconds(s) : throw new FormatException($"{s} is not a number of seconds")) : null;
}
