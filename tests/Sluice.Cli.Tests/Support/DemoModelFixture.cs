namespace Sluice.Cli.Tests.Support;

/// <summary>Points the demo model cache at a private folder for the tests that use the demo model.</summary>
public sealed class DemoModelFixture : IDisposable
{
    private readonly string _cache = Directory.CreateTempSubdirectory("sluice-cache-").FullName;

    public DemoModelFixture() => Environment.SetEnvironmentVariable("SLUICE_CACHE", _cache);

    public void Dispose()
    {
        Environment.SetEnvironmentVariable("SLUICE_CACHE", null);
        Directory.Delete(_cache, recursive: true);
    }
}

[CollectionDefinition(nameof(DemoModelCollection))]
public sealed class DemoModelCollection : ICollectionFixture<DemoModelFixture>;
