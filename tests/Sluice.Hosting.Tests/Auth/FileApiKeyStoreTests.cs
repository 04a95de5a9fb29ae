using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Sluice.Hosting.Auth;

namespace Sluice.Hosting.Tests.Auth;

public sealed class FileApiKeyStoreTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sluice-keys-").FullName;

    [Fact]
    public void RetiredKey_StopsWorkingWhenItsGracePeriodEnds()
    {
        string file = Path.Combine(_dir, "rotate.txt");
        File.WriteAllText(file, "alpha\n");
        var clock = new FakeTimeProvider();
        var store = new FileApiKeyStore(["fixed"], file, TimeSpan.FromSeconds(30), clock, NullLogger.Instance);
        Assert.True(store.IsValid("alpha"));
        File.WriteAllText(file, "beta\n");
        File.SetLastWriteTimeUtc(file, DateTime.UtcNow.AddSeconds(5));
        clock.Advance(TimeSpan.FromSeconds(2));
        Assert.True(store.IsValid("beta"));
        Assert.True(store.IsValid("alpha"));
        clock.Advance(TimeSpan.FromSeconds(31));
        Assert.False(store.IsValid("alpha"));
        Assert.True(store.IsValid("beta"));
        Assert.True(store.IsValid("fixed"));
        Assert.False(store.IsValid(""));
    }

    [Fact]
    public void KeyFile_UnreadableLater_KeepsThePreviousKeys()
    {
        string file = Path.Combine(_dir, "vanish.txt");
        File.WriteAllText(file, "gamma\n");
        var clock = new FakeTimeProvider();
        var store = new FileApiKeyStore([], file, TimeSpan.Zero, clock, NullLogger.Instance);
        File.Delete(file);
        clock.Advance(TimeSpan.FromSeconds(5));
        Assert.True(store.IsValid("gamma"));
    }

    [Fact]
    public void KeyFile_BackAfterBeingMissing_IsReadAgain()
    {
        string file = Path.Combine(_dir, "back.txt");
        File.WriteAllText(file, "one\n");
        var store = new FileApiKeyStore([], file, TimeSpan.Zero, new FakeTimeProvider(), NullLogger.Instance);
        File.Delete(file);
        store.ReloadIfChanged(force: true);
        Assert.True(store.IsValid("one"));
        File.WriteAllText(file, "two\n");
        store.ReloadIfChanged(force: true);
        Assert.True(store.IsValid("two"));
        Assert.False(store.IsValid("one"));
    }

    [Fact]
    public async Task IsValidAsync_NoKeysAtAll_IsDisabledAndAcceptsNothing()
    {
        IApiKeyStore store = new FileApiKeyStore([], null, TimeSpan.Zero, TimeProvider.System, NullLogger.Instance);
        Assert.False(store.Enabled);
        Assert.False(await store.IsValidAsync("anything", CancellationToken.None));
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("   ", "only spaces")]
    public void EmptyOrBlankApiKey_IsAnErrorNamingTheFlag(string key, string says)
    {
        var ex = Assert.Throws<ArgumentException>(() => new FileApiKeyStore(["sk-fine", key], null, TimeSpan.Zero, TimeProvider.System, NullLogger.Instance));
        Assert.Contains($"--api-key is {says}", ex.Message);
    }

    [Fact]
    public void RequireKey_NamesWhereTheKeyCameFrom()
    {
        var ex = Assert.Throws<ArgumentException>(() => FileApiKeyStore.RequireKey("", "api-key in serve.yaml"));
        Assert.StartsWith("api-key in serve.yaml is empty", ex.Message);
        FileApiKeyStore.RequireKey("sk-1", "--api-key");
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
