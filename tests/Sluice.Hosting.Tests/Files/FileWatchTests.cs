using Microsoft.Extensions.Time.Testing;
using Sluice.Hosting.Files;

namespace Sluice.Hosting.Tests.Files;

public sealed class FileWatchTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sluice-watch-").FullName;

    [Fact]
    public void TryGetChange_BeforeTheInterval_DoesNotLook()
    {
        string file = Path.Combine(_dir, "a.txt");
        File.WriteAllText(file, "one");
        var clock = new FakeTimeProvider();
        var watch = new FileWatch([file], clock);
        File.WriteAllText(file, "one and more");
        Assert.False(watch.TryGetChange(out _));
        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.True(watch.TryGetChange(out _));
    }

    [Fact]
    public void TryGetChange_UntilAccepted_ReportsTheChangeAtEveryCheck()
    {
        string file = Path.Combine(_dir, "b.txt");
        File.WriteAllText(file, "one");
        var clock = new FakeTimeProvider();
        var watch = new FileWatch([file], clock);
        File.SetLastWriteTimeUtc(file, DateTime.UtcNow.AddSeconds(5));
        Assert.True(watch.TryGetChange(out var first, force: true));
        Assert.True(watch.TryGetChange(out var again, force: true));
        Assert.Equal(first, again);
        watch.Accept(again);
        Assert.False(watch.TryGetChange(out _, force: true));
    }

    [Fact]
    public void TryGetChange_EitherOfTwoFilesDeletedOrRewritten_IsAChange()
    {
        string cert = Path.Combine(_dir, "c.pem"), key = Path.Combine(_dir, "c.key");
        File.WriteAllText(cert, "c");
        File.WriteAllText(key, "k");
        var watch = new FileWatch([cert, key], new FakeTimeProvider());
        File.Delete(key);
        Assert.True(watch.TryGetChange(out var missing, force: true));
        watch.Accept(missing);
        Assert.False(watch.TryGetChange(out _, force: true));
        File.WriteAllText(key, "k2");
        Assert.True(watch.TryGetChange(out _, force: true));
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
