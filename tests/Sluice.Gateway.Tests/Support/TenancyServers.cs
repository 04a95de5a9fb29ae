namespace Sluice.Gateway.Tests.Support;

/// <summary>
/// One PostgreSQL and one Redis for every tenancy test of the collection, each started on first use (so a missing
/// package skips the test that needs it); each test takes its own database.
/// </summary>
public sealed class TenancyServers : IAsyncLifetime
{
    private readonly SemaphoreSlim _lock = new(1, 1);
    private PostgresServer? _postgres;
    private RedisServer? _redis;

    public async Task<PostgresServer> PostgresAsync()
    {
        await _lock.WaitAsync();
        try
        {
            return _postgres ??= await PostgresServer.StartNewAsync();
        }
        finally
        {
            _lock.Release();
        }
    }

    public async Task<RedisServer> RedisAsync()
    {
        await _lock.WaitAsync();
        try
        {
            return _redis ??= await RedisServer.StartNewAsync();
        }
        finally
        {
            _lock.Release();
        }
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (_postgres is not null)
        {
            await _postgres.DisposeAsync();
        }
        if (_redis is not null)
        {
            await _redis.DisposeAsync();
        }
    }
}

[CollectionDefinition(Name)]
public sealed class TenancyCollection : ICollectionFixture<TenancyServers>
{
    public const string Name = "tenancy servers";
}
