using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Sluice.Hosting;

namespace Sluice.Gateway.Tests;

/// <summary>How the gateway's host is built: what it watches, how Kestrel schedules its work.</summary>
public sealed class SluiceGatewayTests : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sluice-gateway-host-").FullName;

    private string ConfigPath => Path.Combine(_dir, "gateway.yaml");

    public Task InitializeAsync() =>
        File.WriteAllTextAsync(ConfigPath, "models:\n  - name: m\n    deployments:\n      - {url: 'http://127.0.0.1:9', model: m}\n");

    public Task DisposeAsync()
    {
        Directory.Delete(_dir, recursive: true);
        return Task.CompletedTask;
    }

    private SluiceGateway Create(SluiceHostingOptions hosting) => SluiceGateway.Create(new GatewayOptions { ConfigPath = ConfigPath, Hosting = hosting });

    [Fact]
    public async Task Create_AppSettingsFiles_AreReadButNotWatched()
    {
        await using var gateway = Create(new SluiceHostingOptions { Port = 0 });
        var root = (IConfigurationRoot)gateway.Services.GetRequiredService<IConfiguration>();
        var files = root.Providers.OfType<FileConfigurationProvider>().ToList();
        Assert.NotEmpty(files); // appsettings.json is still read when the working directory has one
        Assert.All(files, f => Assert.False(f.Source.ReloadOnChange, $"{f.Source.Path} is watched"));
    }

    [Fact]
    public async Task Create_InlineScheduling_IsKestrelsSocketSetting()
    {
        await using (var inline = Create(new SluiceHostingOptions { Port = 0, InlineScheduling = true }))
        {
            Assert.True(inline.Services.GetRequiredService<IOptions<SocketTransportOptions>>().Value.UnsafePreferInlineScheduling);
        }
        await using var pooled = Create(new SluiceHostingOptions { Port = 0 });
        Assert.False(pooled.Services.GetRequiredService<IOptions<SocketTransportOptions>>().Value.UnsafePreferInlineScheduling);
    }
}
