namespace Sluice.Gateway.Tenancy.Teams;

/// <summary>
/// A team (LiteLLM's team): a budget, rate limits and allowed models shared by every key whose <c>team_id</c> names it.
/// A request made with such a key must fit both the key's and the team's budget and limits, and call a model both allow.
/// A key whose <c>team_id</c> names no team keeps it as a label only (what keys made before teams existed have).
/// </summary>
public sealed record Team
{
    /// <summary>The id keys name in their <c>team_id</c> (LiteLLM's <c>team_id</c>; generated when not given).</summary>
    public required string Id { get; init; }

    /// <summary>A display name (LiteLLM's <c>team_alias</c>).</summary>
    public string? Alias { get; init; }

    /// <summary>Public model names the team's keys may call; empty: every model (each key's own list still applies).</summary>
    public IReadOnlyList<string> Models { get; init; } = [];

    /// <summary>Requests per minute across all the team's keys, fleet-wide.</summary>
    public long? RequestsPerMinute { get; init; }

    /// <summary>Tokens (prompt + completion) per minute across all the team's keys, fleet-wide.</summary>
    public long? TokensPerMinute { get; init; }

    /// <summary>Requests in flight at once across all the team's keys, fleet-wide.</summary>
    public long? MaxParallelRequests { get; init; }

    /// <summary>Money (from the per-model prices) the team's keys may spend together per <see cref="BudgetDuration"/>.</summary>
    public decimal? MaxBudget { get; init; }

    /// <summary>The budget's period: "1h", "1d", "30d", "1mo", counted from the team's creation; null: never resets.</summary>
    public string? BudgetDuration { get; init; }

    public DateTimeOffset CreatedAt { get; init; }

    public DateTimeOffset UpdatedAt { get; init; }

    /// <summary>When the team was blocked (LiteLLM's <c>blocked</c>): every key of the team is refused until it is unblocked.</summary>
    public DateTimeOffset? BlockedAt { get; init; }

    /// <summary>Free-form labels (LiteLLM <c>metadata</c>), returned as given.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; init; } = new Dictionary<string, string>();

    /// <summary>Whether the team's keys may call <paramref name="model"/>.</summary>
    public bool Allows(string model) => Models.Count == 0 || Models.Contains(model, StringComparer.Ordinal);

    /// <summary>The prefix of a team's counter names in the limiters and budget counters, apart from every key id ("key_…").</summary>
    public const string SubjectPrefix = "team:";

    /// <summary>
    /// The team as the limiters see a subject: its counters are named "team:ID" (so <c>sluice:rpm:team:ID</c> in Redis),
    /// shared by all its keys, with the team's limits.
    /// </summary>
    public VirtualKey AsLimitSubject() => new()
    {
        Id = SubjectPrefix + Id,
        Team = Id,
        RequestsPerMinute = RequestsPerMinute,
        TokensPerMinute = TokensPerMinute,
        MaxParallelRequests = MaxParallelRequests,
        CreatedAt = CreatedAt,
    };
}
