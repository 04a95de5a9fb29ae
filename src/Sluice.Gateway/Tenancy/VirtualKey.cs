namespace Sluice.Gateway.Tenancy;

/// <summary>
/// A virtual key as tenancy enforces it: a stable id apart from its secret (the secret is stored hashed and never kept
/// here), who owns it, what it may call and its limits and budget. Key authentication puts the caller's key on the
/// request (<c>HttpContext.Features.Get&lt;VirtualKey&gt;()</c>); absent when the gateway runs without virtual keys or the
/// caller used the master key.
/// </summary>
public sealed record VirtualKey
{
    /// <summary>The stable id ("key_…"): in logs, metrics, spend rows and admin routes; never a secret.</summary>
    public required string Id { get; init; }

    /// <summary>A display name (LiteLLM's `key_alias`).</summary>
    public string? Alias { get; init; }

    public string? Team { get; init; }

    /// <summary>The owner (LiteLLM's `user_id`).</summary>
    public string? Owner { get; init; }

    /// <summary>Public model names this key may call; empty: every model.</summary>
    public IReadOnlyList<string> Models { get; init; } = [];

    /// <summary>Requests per minute (LiteLLM `rpm_limit`), fleet-wide.</summary>
    public long? RequestsPerMinute { get; init; }

    /// <summary>Tokens (prompt + completion) per minute (LiteLLM `tpm_limit`), fleet-wide.</summary>
    public long? TokensPerMinute { get; init; }

    /// <summary>Requests in flight at once (LiteLLM `max_parallel_requests`), fleet-wide.</summary>
    public long? MaxParallelRequests { get; init; }

    /// <summary>A budget in money (the config's currency, from per-model prices) per <see cref="BudgetDuration"/> (LiteLLM `max_budget`).</summary>
    public decimal? MaxBudget { get; init; }

    /// <summary>A budget in tokens (prompt + completion) per <see cref="BudgetDuration"/>.</summary>
    public long? MaxBudgetTokens { get; init; }

    /// <summary>The budget's period (LiteLLM `budget_duration`): "1h", "1d", "30d", "1mo" (a calendar month, UTC), or null: the budget never resets.</summary>
    public string? BudgetDuration { get; init; }

    /// <summary>When the key stops working (null: never).</summary>
    public DateTimeOffset? ExpiresAt { get; init; }

    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>Free-form labels (LiteLLM `metadata`), returned as given.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; init; } = new Dictionary<string, string>();

    /// <summary>Whether the key may call <paramref name="model"/> (a public model name).</summary>
    public bool Allows(string model) => Models.Count == 0 || Models.Contains(model, StringComparer.Ordinal);
}
