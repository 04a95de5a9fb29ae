using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Sluice.Server.Tests.Support;

namespace Sluice.Server.Tests.Hosting;

public sealed class AppSettingsTests
{
    [Fact]
    public async Task Server_AppSettingsFiles_AreReadButNotWatched()
    {
        // a watched appsettings.json is a recursive inotify watch of the working directory: CPU on every file written below it
        await using var t = await TestServer.StartAsync();
        var root = (IConfigurationRoot)t.Server.Services.GetRequiredService<IConfiguration>();
        var files = root.Providers.OfType<FileConfigurationProvider>().ToList();
        Assert.NotEmpty(files);
        Assert.All(files, f => Assert.False(f.Source.ReloadOnChange, $"{f.Source.Path} is watched"));
    }
}
