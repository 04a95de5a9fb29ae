using Sluice.Engine.Models;
using Sluice.Engine.Models.Synthesis;
using Sluice.Engine.Models.Synthesis.Vocabulary;
using Sluice.Engine.Serving;
using Sluice.Server;
using Sluice.Server.Observability;

namespace Sluice.Cli.Tests.Diagnosis;

/// <summary>A tiny model (64 wide, 2 layers, byte vocabulary, context 2048; 4 KiB per KV block of 16) for the doctor's servers.</summary>
public sealed class DoctorFixture : IDisposable
{
    public const long BytesPerKvBlock = 4096;

    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("sluice-doctor-");

    public DoctorFixture()
    {
        ModelPath = Path.Combine(_dir.FullName, "doctor.gguf");
        var shape = ModelShape.Tiny with { Name = "doctor", EmbeddingLength = 64, BlockCount = 2, HeadCount = 4, HeadCountKv = 2, FeedForwardLength = 128, ContextLength = 2048, VocabSize = null, Tied = true };
        ModelSynthesizer.Write(new SynthesisOptions(shape, WeightMix.F16, SynthVocabulary.Bytes()) { Seed = 11 }, ModelPath);
    }

    public string ModelPath { get; }

    /// <summary>A real server on 127.0.0.1 with /metrics, started and (unless the loader blocks) ready.</summary>
    public async Task<SluiceServer> StartAsync(EngineOptions engine, Func<LoadedModel>? load = null, ServerOptions? options = null)
    {
        var server = SluiceServer.Create((options ?? new ServerOptions()) with { Port = 0, Warmup = false }, engine with { Threads = 1 }, load ?? (() => ModelLoader.Load(ModelPath)),
            SluiceObservability.Hooks(new ObservabilityOptions()) with { Logging = _ => { } });
        await server.StartAsync();
        if (load is null)
        {
            await server.Host.Settled.WaitAsync(TimeSpan.FromSeconds(30));
        }
        return server;
    }

    public void Dispose() => _dir.Delete(recursive: true);
}
