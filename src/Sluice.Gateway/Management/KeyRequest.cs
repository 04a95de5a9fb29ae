using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Sluice.Gateway.Tenancy;
using Sluice.Hosting.Errors;

namespace Sluice.Gateway.Management;

/// <summary>
/// A key's fields in an admin request body, with LiteLLM's names (key_alias, team_id, user_id, models, rpm_limit,
/// tpm_limit, max_parallel_requests, max_budget, max_budget_tokens, budget_duration, metadata, duration or expires).
/// Every field is checked here (a 400 names the field); a field nobody reads is refused, never ignored. In an update a
/// field given as null clears it.
/// </summary>
internal sealed partial class KeyRequest
{
    public static readonly string[] Fields =
        ["key_alias", "team_id", "user_id", "models", "rpm_limit", "tpm_limit", "max_parallel_requests", "max_budget", "max_budget_tokens", "budget_duration",
         "metadata", "duration", "expires"];

    private readonly JsonObject _body;

    private KeyRequest(JsonObject body) => _body = body;

    /// <summary>The body as an object whose fields are all in <paramref name="allowed"/>; anything else is a 400 naming the fields.</summary>
    public static async Task<KeyRequest> ReadAsync(Stream body, IReadOnlyCollection<string> allowed, CancellationToken cancellationToken)
    {
        JsonNode? node;
        try
        {
            node = await JsonNode.ParseAsync(body, cancellationToken: cancellationToken);
        }
        catch (JsonException e)
        {
            throw ApiException.BadRequest($"The body is not valid JSON: {e.Message}");
        }
        var obj = node as JsonObject ?? (node is null ? [] : throw ApiException.BadRequest("The body must be a JSON object of key fields."));
        var unknown = obj.Select(kv => kv.Key).Where(k => !allowed.Contains(k)).ToList();
        if (unknown.Count > 0)
        {
            throw ApiException.BadRequest($"Unknown field{(unknown.Count > 1 ? "s" : "")}: {string.Join(", ", unknown)} (known: {string.Join(", ", allowed)}).", unknown[0]);
        }
        return new KeyRequest(obj);
    }

    public bool Has(string field) => _body.ContainsKey(field);

    public JsonNode? this[string field] => _body[field];

    /// <summary>Applies the fields given to <paramref name="key"/> (a new key's template, or the stored key for an update).</summary>
    public VirtualKey Apply(VirtualKey key, DateTimeOffset now)
    {
        if (Has("key_alias")) { key = key with { Alias = Text("key_alias") }; }
        if (Has("team_id")) { key = key with { Team = Text("team_id") }; }
        if (Has("user_id")) { key = key with { Owner = Text("user_id") }; }
        if (Has("models")) { key = key with { Models = Models() }; }
        if (Has("rpm_limit")) { key = key with { RequestsPerMinute = Whole("rpm_limit", 1) }; }
        if (Has("tpm_limit")) { key = key with { TokensPerMinute = Whole("tpm_limit", 1) }; }
        if (Has("max_parallel_requests")) { key = key with { MaxParallelRequests = Whole("max_parallel_requests", 1) }; }
        if (Has("max_budget_tokens")) { key = key with { MaxBudgetTokens = Whole("max_budget_tokens", 0) }; }
        if (Has("max_budget")) { key = key with { MaxBudget = Budget() }; }
        if (Has("budget_duration")) { key = key with { BudgetDuration = BudgetDuration() }; }
        if (Has("metadata")) { key = key with { Metadata = Metadata() }; }
        if (Has("duration") && Has("expires"))
        {
            throw ApiException.BadRequest("Give duration (how long from now) or expires (a time), not both.", "duration");
        }
        if (Has("duration"))
        {
            key = key with { ExpiresAt = Text("duration") is { } d ? now + Duration(d, "duration") : null };
        }
        if (Has("expires"))
        {
            key = key with { ExpiresAt = Expires() };
        }
        return key;
    }

    public string? Text(string field) => _body[field] switch
    {
        null => null,
        JsonValue v when v.TryGetValue(out string? s) => string.IsNullOrWhiteSpace(s) ? throw ApiException.BadRequest($"{field} must not be empty.", field) : s,
        _ => throw ApiException.BadRequest($"{field} must be a string.", field),
    };

    /// <summary>A true/false field (an update's <c>blocked</c>); anything else, null included, is a 400 naming it.</summary>
    public bool Flag(string field) => _body[field] is JsonValue v && v.GetValueKind() is JsonValueKind.True or JsonValueKind.False
        ? v.GetValue<bool>()
        : throw ApiException.BadRequest($"{field} must be true or false, not {_body[field]?.ToJsonString() ?? "null"}.", field);

    public List<string> Models() => _body["models"] switch
    {
        null => [],
        JsonArray a => [.. a.Select((n, i) => n is JsonValue v && v.TryGetValue(out string? s) && !string.IsNullOrWhiteSpace(s)
            ? s : throw ApiException.BadRequest($"models[{i}] must be a model name.", "models"))],
        _ => throw ApiException.BadRequest("models must be a list of model names (empty: every model).", "models"),
    };

    public long? Whole(string field, long min)
    {
        if (_body[field] is null)
        {
            return null;
        }
        if (_body[field] is JsonValue v && v.GetValueKind() == JsonValueKind.Number && v.TryGetValue(out long n) && n >= min)
        {
            return n;
        }
        throw ApiException.BadRequest($"{field} must be a whole number of at least {min} (or null: no limit), not {_body[field]!.ToJsonString()}.", field);
    }

    public decimal? Budget()
    {
        if (_body["max_budget"] is null)
        {
            return null;
        }
        if (_body["max_budget"] is JsonValue v && v.GetValueKind() == JsonValueKind.Number && v.TryGetValue(out decimal amount))
        {
            return amount >= 0 ? amount
                : throw ApiException.BadRequest($"max_budget must be 0 or more (0: nothing may be spent; null: no budget), not {amount.ToString(CultureInfo.InvariantCulture)}.", "max_budget");
        }
        throw ApiException.BadRequest("max_budget must be a number (0: nothing may be spent; null: no budget).", "max_budget");
    }

    [GeneratedRegex("^[1-9][0-9]*(s|m|h|d|mo)$")]
    private static partial Regex PeriodPattern();

    public string? BudgetDuration() => Text("budget_duration") is { } d
        ? PeriodPattern().IsMatch(d) ? d : throw ApiException.BadRequest($"budget_duration must be a period such as 1h, 1d, 30d or 1mo (a calendar month), not '{d}'.", "budget_duration")
        : null;

    public Dictionary<string, string> Metadata() => _body["metadata"] switch
    {
        null => [],
        JsonObject o => o.ToDictionary(kv => kv.Key, kv => kv.Value is JsonValue v && v.TryGetValue(out string? s) ? s
            : throw ApiException.BadRequest($"metadata.{kv.Key} must be a string.", "metadata"), StringComparer.Ordinal),
        _ => throw ApiException.BadRequest("metadata must be an object of string values.", "metadata"),
    };

    private DateTimeOffset? Expires()
    {
        string? text = Text("expires");
        return text is null ? null
            : DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at) ? at
            : throw ApiException.BadRequest($"expires must be an ISO 8601 time such as 2027-01-31T00:00:00Z, not '{text}'.", "expires");
    }

    /// <summary>A duration as LiteLLM writes them: 30s, 15m, 12h, 30d.</summary>
    public static TimeSpan Duration(string text, string field)
    {
        var match = DurationPattern().Match(text);
        if (!match.Success)
        {
            throw ApiException.BadRequest($"{field} must be a duration such as 30s, 15m, 12h or 30d, not '{text}'.", field);
        }
        double n = double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
        return match.Groups[2].Value switch
        {
            "s" => TimeSpan.FromSeconds(n),
            "m" => TimeSpan.FromMinutes(n),
            "h" => TimeSpan.FromHours(n),
            _ => TimeSpan.FromDays(n),
        };
    }

    [GeneratedRegex("^([0-9]+)(s|m|h|d)$")]
    private static partial Regex DurationPattern();
}
