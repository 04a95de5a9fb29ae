using System.Data.Common;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Sluice.Gateway.Tenancy.Storage;

/// <summary>The two SQL stores tenancy runs on.</summary>
public enum TenancyProvider
{
    /// <summary>An embedded SQLite file: the default, nothing to install; one gateway host (several processes on it may share the file).</summary>
    Sqlite,

    /// <summary>A PostgreSQL server (Npgsql): what several gateway replicas share.</summary>
    Postgres,
}

/// <summary>A store that cannot be opened, migrated or reached: its message names the store and the problem.</summary>
public sealed class TenancyStoreException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// The tenancy database: keys, spend and whatever else tenancy keeps, on SQLite (a file path, the default) or PostgreSQL
/// (a connection string or a `postgresql://` URL as LiteLLM's `database_url` writes it). Each component (keys, spend...)
/// owns its tables and applies its own numbered migrations at start through <see cref="MigrateAsync"/>; the
/// `sluice_schema` table records which have run, so a restart or a second replica applies nothing twice.
/// SQL is written once for both: `@name` parameters, BIGINT/TEXT columns, no provider-only syntax unless
/// <see cref="Provider"/> is checked.
/// </summary>
public sealed class TenancyDatabase : IAsyncDisposable
{
    private readonly NpgsqlDataSource? _postgres;
    private readonly string? _sqlite;

    private TenancyDatabase(TenancyProvider provider, string description, NpgsqlDataSource? postgres, string? sqlite)
    {
        Provider = provider;
        Description = description;
        _postgres = postgres;
        _sqlite = sqlite;
    }

    public TenancyProvider Provider { get; }

    /// <summary>The SQLite file's full path; null for PostgreSQL.</summary>
    public string? FilePath => _sqlite is null ? null : new SqliteConnectionStringBuilder(_sqlite).DataSource;

    /// <summary>Where the data lives, with no password: "SQLite file /var/lib/sluice/gateway.db", "PostgreSQL 127.0.0.1:5432/sluice".</summary>
    public string Description { get; }

    /// <summary>
    /// Opens (and for SQLite creates) the store <paramref name="location"/> names: a `postgres://` / `postgresql://` URL or an
    /// Npgsql connection string (`Host=...`) is PostgreSQL; anything else is a SQLite file path (`sqlite:` prefix optional).
    /// Nothing is read yet; <see cref="MigrateAsync"/> is the first contact.
    /// </summary>
    public static TenancyDatabase Open(string location)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(location);
        if (location.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase) || location.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase))
        {
            return OpenPostgres(FromUrl(location));
        }
        if (location.Contains("Host=", StringComparison.OrdinalIgnoreCase) || location.Contains("Server=", StringComparison.OrdinalIgnoreCase))
        {
            return OpenPostgres(location);
        }
        string path = Path.GetFullPath(location.StartsWith("sqlite:", StringComparison.OrdinalIgnoreCase) ? location["sqlite:".Length..] : location);
        string? folder = Path.GetDirectoryName(path);
        if (folder is not null && !Directory.Exists(folder))
        {
            throw new TenancyStoreException($"SQLite file {path}: its folder {folder} does not exist");
        }
        var builder = new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadWriteCreate, Pooling = true, DefaultTimeout = 10 };
        return new TenancyDatabase(TenancyProvider.Sqlite, $"SQLite file {path}", null, builder.ToString());
    }

    private static TenancyDatabase OpenPostgres(string connectionString)
    {
        NpgsqlConnectionStringBuilder builder;
        try
        {
            builder = new NpgsqlConnectionStringBuilder(connectionString);
        }
        catch (ArgumentException e)
        {
            throw new TenancyStoreException($"PostgreSQL connection string: {e.Message}", e);
        }
        string where = $"PostgreSQL {builder.Host}:{builder.Port}/{builder.Database ?? builder.Username}";
        return new TenancyDatabase(TenancyProvider.Postgres, where, NpgsqlDataSource.Create(builder), null);
    }

    /// <summary>`postgresql://user:password@host:port/database?sslmode=require` as an Npgsql connection string.</summary>
    internal static string FromUrl(string url)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || string.IsNullOrEmpty(uri.Host))
        {
            throw new TenancyStoreException($"database URL '{Redact(url)}' is not a valid postgresql://user:password@host:port/database URL");
        }
        var builder = new NpgsqlConnectionStringBuilder { Host = uri.Host, Port = uri.Port > 0 ? uri.Port : 5432 };
        string database = Uri.UnescapeDataString(uri.AbsolutePath.TrimStart('/'));
        if (database.Length > 0)
        {
            builder.Database = database;
        }
        if (uri.UserInfo.Length > 0)
        {
            string[] parts = uri.UserInfo.Split(':', 2);
            builder.Username = Uri.UnescapeDataString(parts[0]);
            if (parts.Length == 2)
            {
                builder.Password = Uri.UnescapeDataString(parts[1]);
            }
        }
        foreach (string pair in uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            string[] kv = pair.Split('=', 2);
            string key = Uri.UnescapeDataString(kv[0]);
            string value = kv.Length == 2 ? Uri.UnescapeDataString(kv[1]) : "";
            try
            {
                builder[key.Equals("sslmode", StringComparison.OrdinalIgnoreCase) ? "SSL Mode" : key] = value;
            }
            catch (ArgumentException e)
            {
                throw new TenancyStoreException($"database URL '{Redact(url)}': option '{key}' is not understood: {e.Message}", e);
            }
        }
        return builder.ToString();
    }

    /// <summary>The URL with its password replaced: what logs and errors may show.</summary>
    public static string Redact(string location) =>
        System.Text.RegularExpressions.Regex.Replace(
            System.Text.RegularExpressions.Regex.Replace(location, "(://[^:/@]*:)[^@]*@", "$1***@"),
            "(?i)(password=)[^;]*", "$1***");

    /// <summary>An open connection. SQLite connections run in WAL mode with a busy timeout, so several writers wait for each other rather than fail.</summary>
    /// <summary>
    /// Runs <paramref name="write"/> to keys or teams in one transaction that also moves the keys' change counter (replicas
    /// drop their cached keys and teams when it moves); a database error becomes a <see cref="TenancyStoreException"/>
    /// naming the database and <paramref name="what"/>.
    /// </summary>
    public async Task WriteKeysAsync(string what, Func<DbConnection, DbTransaction, Task> write, CancellationToken cancellationToken)
    {
        try
        {
            await using var connection = await OpenConnectionAsync(cancellationToken);
            await using var transaction = await BeginWriteAsync(connection, cancellationToken);
            await write(connection, transaction);
            await ExecuteAsync(connection, transaction, "UPDATE sluice_keys_version SET version = version + 1 WHERE id = 1", cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        }
        catch (DbException e)
        {
            throw new TenancyStoreException($"{Description}: writing {what} failed: {e.Message}", e);
        }
    }

    /// <summary>Runs <paramref name="read"/> on a connection; a database error becomes a <see cref="TenancyStoreException"/> naming <paramref name="what"/>.</summary>
    public async Task ReadAsync(string what, Func<DbConnection, Task> read, CancellationToken cancellationToken)
    {
        try
        {
            await using var connection = await OpenConnectionAsync(cancellationToken);
            await read(connection);
        }
        catch (DbException e)
        {
            throw new TenancyStoreException($"{Description}: reading {what} failed: {e.Message}", e);
        }
    }

    public async Task<DbConnection> OpenConnectionAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            if (_postgres is not null)
            {
                return await _postgres.OpenConnectionAsync(cancellationToken);
            }
            var connection = new SqliteConnection(_sqlite);
            await connection.OpenAsync(cancellationToken);
            await using var pragma = connection.CreateCommand();
            // WAL + synchronous=NORMAL: a committed transaction survives the process being killed (SIGKILL); only an OS
            // crash or power loss can lose the last commits, which FULL would also keep.
            pragma.CommandText = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=10000; PRAGMA foreign_keys=ON;";
            await pragma.ExecuteNonQueryAsync(cancellationToken);
            return connection;
        }
        catch (SqliteException e) when (IsCorrupt(e))
        {
            throw Corrupt(e);
        }
        catch (Exception e) when (e is DbException or InvalidOperationException or IOException)
        {
            throw new TenancyStoreException($"{Description}: cannot open: {e.Message}", e);
        }
    }

    /// <summary>
    /// Applies the migrations of <paramref name="component"/> not applied yet, in order, each in its own transaction with
    /// its record in `sluice_schema`; migration i (0-based) is version i + 1. Two processes migrating at once serialize on
    /// a lock (an advisory lock on PostgreSQL, the write lock on SQLite). A version recorded in the store but unknown here
    /// (the store was migrated by a newer Sluice) is an error: an older binary must not write to a newer schema.
    /// A file that is not a SQLite database is an error naming the file.
    /// </summary>
    public async Task MigrateAsync(string component, IReadOnlyList<string> migrations, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken);
        try
        {
            await using (var create = await BeginWriteAsync(connection, cancellationToken))
            {
                // under the lock too: two PostgreSQL sessions running CREATE TABLE IF NOT EXISTS at once can both try to
                // create it, and one fails on pg_type's unique index (seen when two replicas start together)
                if (Provider == TenancyProvider.Postgres)
                {
                    await ExecuteAsync(connection, create, "SELECT pg_advisory_xact_lock(7333001)", cancellationToken);
                }
                await ExecuteAsync(connection, create,
                    "CREATE TABLE IF NOT EXISTS sluice_schema (component TEXT NOT NULL, version BIGINT NOT NULL, applied_at TEXT NOT NULL, PRIMARY KEY (component, version))",
                    cancellationToken);
                await create.CommitAsync(cancellationToken);
            }
            for (int i = 0; i < migrations.Count; i++)
            {
                await using var transaction = await BeginWriteAsync(connection, cancellationToken);
                if (Provider == TenancyProvider.Postgres)
                {
                    await ExecuteAsync(connection, transaction, "SELECT pg_advisory_xact_lock(7333001)", cancellationToken);
                }
                long applied = await ScalarAsync(connection, transaction,
                    "SELECT COALESCE(MAX(version), 0) FROM sluice_schema WHERE component = @component", cancellationToken, ("component", component));
                if (applied > migrations.Count)
                {
                    throw new TenancyStoreException(
                        $"{Description}: the '{component}' tables are at schema version {applied}, newer than this Sluice knows ({migrations.Count}); upgrade Sluice or use another database");
                }
                if (applied >= i + 1)
                {
                    await transaction.CommitAsync(cancellationToken);
                    continue;
                }
                await ExecuteAsync(connection, transaction, migrations[i], cancellationToken);
                await ExecuteAsync(connection, transaction,
                    "INSERT INTO sluice_schema (component, version, applied_at) VALUES (@component, @version, @at)", cancellationToken,
                    ("component", component), ("version", (long)(i + 1)), ("at", DateTimeOffset.UtcNow.ToString("O")));
                await transaction.CommitAsync(cancellationToken);
            }
        }
        catch (SqliteException e) when (IsCorrupt(e))
        {
            throw Corrupt(e);
        }
        catch (DbException e)
        {
            throw new TenancyStoreException($"{Description}: migrating '{component}' failed: {e.Message}", e);
        }
    }

    /// <summary>SQLITE_NOTADB or SQLITE_CORRUPT: the file is not a database, or a damaged one.</summary>
    public static bool IsCorrupt(SqliteException e) => e.SqliteErrorCode is 26 or 11;

    private TenancyStoreException Corrupt(SqliteException e) =>
        new($"{Description} is not a SQLite database or is corrupt ({e.Message}); move it aside or point the gateway at another file", e);

    /// <summary>A transaction that writes: on SQLite it takes the write lock at once (BEGIN IMMEDIATE), so it cannot fail later on an upgrade.</summary>
    public static async Task<DbTransaction> BeginWriteAsync(DbConnection connection, CancellationToken cancellationToken = default) =>
        connection is SqliteConnection sqlite
            ? sqlite.BeginTransaction(deferred: false)
            : await connection.BeginTransactionAsync(cancellationToken);

    /// <summary>Runs <paramref name="sql"/> with `@name` parameters; returns the rows affected.</summary>
    public static async Task<int> ExecuteAsync(DbConnection connection, DbTransaction? transaction, string sql, CancellationToken cancellationToken,
        params (string Name, object? Value)[] parameters)
    {
        await using var command = Command(connection, transaction, sql, parameters);
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>The first column of the first row as a long (0 for no row or NULL).</summary>
    public static async Task<long> ScalarAsync(DbConnection connection, DbTransaction? transaction, string sql, CancellationToken cancellationToken,
        params (string Name, object? Value)[] parameters)
    {
        await using var command = Command(connection, transaction, sql, parameters);
        object? value = await command.ExecuteScalarAsync(cancellationToken);
        return value is null or DBNull ? 0 : Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture);
    }

    public static DbCommand Command(DbConnection connection, DbTransaction? transaction, string sql, params (string Name, object? Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Transaction = transaction;
        foreach (var (name, value) in parameters)
        {
            var parameter = command.CreateParameter();
            parameter.ParameterName = name;
            parameter.Value = value ?? DBNull.Value;
            command.Parameters.Add(parameter);
        }
        return command;
    }

    public async ValueTask DisposeAsync()
    {
        if (_postgres is not null)
        {
            await _postgres.DisposeAsync();
        }
        if (_sqlite is not null)
        {
            SqliteConnection.ClearAllPools();
        }
    }
}
