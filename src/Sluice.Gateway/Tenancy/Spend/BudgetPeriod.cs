using System.Globalization;

namespace Sluice.Gateway.Tenancy.Spend;

/// <summary>
/// A key's current budget period from its <c>budget_duration</c>: N seconds, minutes, hours or days counted from the
/// key's creation (as LiteLLM resets a budget every duration after it was set), or N calendar months (UTC, from the
/// first of the month it was created in); none: one period for all time, never reset.
/// </summary>
public readonly record struct BudgetPeriod(DateTimeOffset Start, DateTimeOffset? End)
{
    public static BudgetPeriod Current(string? duration, DateTimeOffset created, DateTimeOffset now)
    {
        if (string.IsNullOrEmpty(duration))
        {
            return new BudgetPeriod(DateTimeOffset.UnixEpoch, null);
        }
        if (duration.EndsWith("mo", StringComparison.Ordinal))
        {
            int months = int.Parse(duration[..^2], CultureInfo.InvariantCulture);
            var anchor = new DateTimeOffset(created.UtcDateTime.Year, created.UtcDateTime.Month, 1, 0, 0, 0, TimeSpan.Zero);
            int elapsed = ((now.UtcDateTime.Year - anchor.Year) * 12) + now.UtcDateTime.Month - anchor.Month;
            var start = anchor.AddMonths(Math.Max(0, elapsed) / months * months);
            return new BudgetPeriod(start, start.AddMonths(months));
        }
        long n = long.Parse(duration[..^1], CultureInfo.InvariantCulture);
        var length = duration[^1] switch
        {
            's' => TimeSpan.FromSeconds(n),
            'm' => TimeSpan.FromMinutes(n),
            'h' => TimeSpan.FromHours(n),
            'd' => TimeSpan.FromDays(n),
            _ => throw new FormatException($"budget_duration '{duration}' is not a period such as 1h, 1d, 30d or 1mo"),
        };
        long periods = Math.Max(0, (now - created).Ticks / length.Ticks);
        var begin = created + TimeSpan.FromTicks(periods * length.Ticks);
        return new BudgetPeriod(begin, begin + length);
    }
}
