namespace Sluice.Gateway.Tenancy;

/// <summary>What the gateway does when the key store (the database) or Redis cannot be reached.</summary>
public enum FailMode
{
    /// <summary>Refuse (503 naming the store): no request passes a check that could not be made. The default.</summary>
    Closed,

    /// <summary>Serve: keys known from the in-process cache keep working, limits held in Redis are not enforced. Logged and counted.</summary>
    Open,
}

/// <summary>
/// tenancy: virtual keys (and, with them, limits and budgets) on. Read at start; a reload that changes it is refused
/// (restart the gateway to move to another database).
/// </summary>
public sealed record TenancySettings
{
    /// <summary>The default SQLite file, next to the config file.</summary>
    public const string DefaultDatabase = "sluice-gateway.db";

    /// <summary>database: a SQLite file path (relative to the config file's folder), a PostgreSQL connection string or a postgresql:// URL.</summary>
    public string Database { get; init; } = DefaultDatabase;

    /// <summary>redis: a StackExchange.Redis configuration ("host:port,password=..."); null: counters in process, invalidation by polling only.</summary>
    public string? Redis { get; init; }

    /// <summary>fail_mode: closed (default) or open.</summary>
    public FailMode FailMode { get; init; } = FailMode.Closed;

    /// <summary>spend: the spend log (docs/tenancy.md).</summary>
    public SpendSettings Spend { get; init; } = new();
}

/// <summary>tenancy.spend: the spend log.</summary>
public sealed record SpendSettings
{
    /// <summary>enabled: record a row per request. Default: on when the file prices any deployment (input_cost_per_token),
    /// else off (keys and limits only). On, every deployment needs a price (an explicit 0 is a price). Null only while
    /// the file is read (not said: the default is decided once the models are known).</summary>
    public bool? Enabled { get; init; }

    /// <summary>max_batch: most rows one group commit writes (default 512).</summary>
    public int MaxBatch { get; init; } = 512;

    /// <summary>journal: the folder of the local spend journal (rows are appended there before a response ends and
    /// committed to the database in the background; docs/tenancy.md); "off": each response waits for its row's group
    /// commit instead. Null: the default folder (<see cref="Spend.SpendJournal.DefaultFolder"/>).</summary>
    public string? Journal { get; init; }

    /// <summary>The journal is off (journal: off): each request waits for its row's database commit.</summary>
    public bool JournalOff => string.Equals(Journal, "off", StringComparison.Ordinal);
}
