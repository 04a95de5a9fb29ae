using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Sluice.Gateway.Tests.Support;

/// <summary>
/// Real Redis and PostgreSQL servers from Debian's packages (`redis-server`, `postgresql`; test.sh installs them),
/// started on 127.0.0.1 on free ports with their data in a temporary folder and killed with it at the end. Without the
/// binaries a test skips, except under CI=true, where that fails.
/// </summary>
public static class DataServers
{
    /// <summary>Skips the test when <paramref name="binary"/> is missing, except under CI=true, where that fails.</summary>
    public static string Require(string? binary, string what)
    {
        bool ci = Environment.GetEnvironmentVariable("CI") == "true";
        if (binary is null)
        {
            Skip.If(!ci, $"{what} is not installed (test.sh installs it with apt-get)");
            Assert.Fail($"{what} is not installed: test.sh installs it with apt-get under CI=true");
        }
        return binary!;
    }

    internal static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Starts <paramref name="start"/> with its output kept, and waits until it listens on <paramref name="port"/> (its output in the error if it exits first).</summary>
    internal static async Task<Process> LaunchAsync(ProcessStartInfo start, int port, string what)
    {
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        var process = Process.Start(start)!;
        var log = new System.Text.StringBuilder();
        process.OutputDataReceived += (_, e) => { lock (log) { log.AppendLine(e.Data); } };
        process.ErrorDataReceived += (_, e) => { lock (log) { log.AppendLine(e.Data); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        await WaitForPortAsync(port, process, what, () => { lock (log) { return log.ToString(); } });
        return process;
    }

    /// <summary>Deletes a server's temporary folder, leaving it when something still holds it.</summary>
    internal static void DeleteFolder(string folder)
    {
        try
        {
            Directory.Delete(folder, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }

    private static async Task WaitForPortAsync(int port, Process process, string what, Func<string> log)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"{what} exited with {process.ExitCode} before listening: {log()}");
            }
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, port);
                return;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(50);
            }
        }
    }

    internal static void Kill(Process? process)
    {
        if (process is { HasExited: false })
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit(10_000);
        }
        process?.Dispose();
    }

    internal static async Task RunAsync(string file, string[] args, string? user = null)
    {
        var start = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true };
        if (user is not null)
        {
            start.UserName = user;
        }
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited with {process.ExitCode}: {await output}{await error}");
        }
    }
}

/// <summary>A real `redis-server` on 127.0.0.1, no persistence, its folder deleted on dispose. Can be stopped and restarted on the same port.</summary>
public sealed class RedisServer : IAsyncLifetime, IAsyncDisposable
{
    private Process? _process;
    private readonly string _folder = Directory.CreateTempSubdirectory("sluice-redis-").FullName;

    public int Port { get; } = DataServers.FreePort();

    /// <summary>A StackExchange.Redis configuration string for this server.</summary>
    public string ConnectionString => $"127.0.0.1:{Port},abortConnect=false";

    public static string? Binary => new[] { "/usr/bin/redis-server", "/usr/local/bin/redis-server" }.FirstOrDefault(File.Exists);

    public static async Task<RedisServer> StartNewAsync()
    {
        var server = new RedisServer();
        await server.StartAsync();
        return server;
    }

    public async Task StartAsync()
    {
        string binary = DataServers.Require(Binary, "redis-server");
        var start = new ProcessStartInfo(binary,
            ["--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--dir", _folder,
             "--save", "", "--appendonly", "no", "--daemonize", "no", "--protected-mode", "no"]);
        _process = await DataServers.LaunchAsync(start, Port, "redis-server");
    }

    /// <summary>Kills the server (SIGKILL): what a crashed or unreachable Redis looks like to its clients.</summary>
    public void Stop()
    {
        DataServers.Kill(_process);
        _process = null;
    }

    public Task InitializeAsync() => StartAsync();

    Task IAsyncLifetime.DisposeAsync() => DisposeAsync().AsTask();

    public ValueTask DisposeAsync()
    {
        Stop();
        DataServers.DeleteFolder(_folder);
        return ValueTask.CompletedTask;
    }
}

/// <summary>
/// A real PostgreSQL server (Debian's `postgresql` package: initdb and postgres from /usr/lib/postgresql/N/bin) on
/// 127.0.0.1 with trust authentication for the user `sluice`, its cluster in a temporary folder. PostgreSQL refuses to
/// run as root, so under root the cluster belongs to the package's `postgres` user and runs as it.
/// <see cref="CreateDatabaseAsync"/> gives each test its own database.
/// </summary>
public sealed class PostgresServer : IAsyncLifetime, IAsyncDisposable
{
    private Process? _process;
    private readonly string _folder = Directory.CreateTempSubdirectory("sluice-pg-").FullName;
    private int _databases;
    private readonly List<string> _names = ["postgres"];

    public int Port { get; } = DataServers.FreePort();

    /// <summary>An Npgsql connection string for the server's `postgres` database.</summary>
    public string ConnectionString => ConnectionStringFor("postgres");

    public string ConnectionStringFor(string database) =>
        $"Host=127.0.0.1;Port={Port};Username=sluice;Database={database};Pooling=true;Timeout=5;Command Timeout=10";

    public static string? BinFolder => Directory.Exists("/usr/lib/postgresql")
        ? Directory.GetDirectories("/usr/lib/postgresql").Select(d => Path.Combine(d, "bin"))
            .Where(d => File.Exists(Path.Combine(d, "postgres")) && File.Exists(Path.Combine(d, "initdb")))
            .OrderByDescending(d => d, StringComparer.Ordinal).FirstOrDefault()
        : null;

    private static bool IsRoot => Environment.UserName == "root";

    public static async Task<PostgresServer> StartNewAsync()
    {
        var server = new PostgresServer();
        await server.StartAsync();
        return server;
    }

    public async Task StartAsync()
    {
        string bin = DataServers.Require(BinFolder, "PostgreSQL (initdb, postgres)");
        string data = Path.Combine(_folder, "data");
        if (!Directory.Exists(data))
        {
            if (IsRoot)
            {
                await DataServers.RunAsync("chown", ["postgres:", _folder]);
            }
            await RunAsPostgresAsync(Path.Combine(bin, "initdb"), "-D", data, "-U", "sluice", "-A", "trust", "-E", "UTF8", "--no-sync");
        }
        string port = Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        string[] args = [Path.Combine(bin, "postgres"), "-D", data, "-p", port, "-k", _folder, "-c", "listen_addresses=127.0.0.1",
            "-c", "fsync=off", "-c", "max_connections=200"];
        var start = new ProcessStartInfo(args[0], args[1..]);
        if (IsRoot)
        {
            start.UserName = "postgres";
        }
        _process = await DataServers.LaunchAsync(start, Port, "postgres");
        // the port opens a moment before the server accepts logins: wait until a login works
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            try
            {
                // not pooled: a pooled connection from before a Stop() would "open" without asking the new server
                await using var connection = new Npgsql.NpgsqlConnection(ConnectionString + ";Pooling=false");
                await connection.OpenAsync();
                return;
            }
            catch (Npgsql.NpgsqlException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(100);
            }
        }
    }

    private static Task RunAsPostgresAsync(string file, params string[] args) => DataServers.RunAsync(file, args, IsRoot ? "postgres" : null);

    /// <summary>A fresh, empty database on this server; returns its connection string.</summary>
    public async Task<string> CreateDatabaseAsync()
    {
        string name = $"t{Interlocked.Increment(ref _databases)}_{Guid.NewGuid():N}"[..20];
        lock (_names)
        {
            _names.Add(name);
        }
        await using var connection = new Npgsql.NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        await using var command = new Npgsql.NpgsqlCommand($"CREATE DATABASE {name}", connection);
        await command.ExecuteNonQueryAsync();
        return ConnectionStringFor(name);
    }

    /// <summary>Kills the server (SIGKILL to the postmaster and its children): a database that goes away.</summary>
    public void Stop()
    {
        DataServers.Kill(_process);
        _process = null;
    }

    public Task InitializeAsync() => StartAsync();

    Task IAsyncLifetime.DisposeAsync() => DisposeAsync().AsTask();

    public ValueTask DisposeAsync()
    {
        Stop();
        DataServers.DeleteFolder(_folder);
        DeleteSpendJournals();
        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// Gateways on a PostgreSQL database journal their spend rows under the temporary folder, named by the database
    /// (<see cref="Sluice.Gateway.Tenancy.Spend.SpendJournal.DefaultFolder"/>); a killed gateway's rows stay there for
    /// the next one to replay. This server's databases are gone, so their journals go with them.
    /// </summary>
    private void DeleteSpendJournals()
    {
        lock (_names)
        {
            foreach (string name in _names)
            {
                string folder = Sluice.Gateway.Tenancy.Spend.SpendJournal.DefaultFolder(
                    string.Create(System.Globalization.CultureInfo.InvariantCulture, $"PostgreSQL 127.0.0.1:{Port}/{name}"), null);
                if (Directory.Exists(folder))
                {
                    DataServers.DeleteFolder(folder);
                }
            }
        }
    }
}
