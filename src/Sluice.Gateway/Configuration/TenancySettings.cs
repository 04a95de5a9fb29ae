namespace Sluice.Gateway.Configuration;

/// <summary>tenancy: where tenancy keeps its data and what it records.</summary>
public sealed record TenancySettings
{
    /// <summary>database: a SQLite file path (default <c>gateway.db</c> beside the config file) or a PostgreSQL URL / connection string.</summary>
    public string? Database { get; init; }

    /// <summary>spend: usage and spend are recorded, one durable row per request before its response ends.</summary>
    public SpendSettings Spend { get; init; } = new();
}

/// <summary>tenancy.spend: the spend log.</summary>
public sealed record SpendSettings
{
    /// <summary>enabled: record a row per request (default true). Every deployment then needs a price (an explicit 0 is a price).</summary>
    public bool Enabled { get; init; } = true;

    /// <summary>max_batch: most rows one group commit writes (default 512).</summary>
    public int MaxBatch { get; init; } = 512;
}
