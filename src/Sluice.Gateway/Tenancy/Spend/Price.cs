using System.Globalization;

namespace Sluice.Gateway.Tenancy.Spend;

/// <summary>
/// A deployment's price per token, exact: pico-units (10^-12) of the configured currency per prompt and per completion
/// token, parsed from the decimal text of the file (never through a float), so 0.000002 is exactly 2,000,000 pico.
/// Money is summed in pico-units as 64-bit integers: up to 9.2 million currency units per row or sum.
/// </summary>
public readonly record struct Price(long InputPico, long OutputPico)
{
    public const decimal PicoPerUnit = 1_000_000_000_000m;

    /// <summary>The cost of a request in pico-units (checked: an overflow throws, never wraps).</summary>
    public long Cost(long promptTokens, long completionTokens) => checked((promptTokens * InputPico) + (completionTokens * OutputPico));

    /// <summary>Parses a per-token price ("0.000002", "2e-6"); null with a reason when it is not a non-negative number with at most 12 decimals.</summary>
    public static long? ParsePico(string text, out string? problem)
    {
        problem = null;
        if (!decimal.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out decimal value) || value < 0)
        {
            problem = $"must be a non-negative number (currency per token, e.g. 0.000002), not '{text}'";
            return null;
        }
        decimal pico = value * PicoPerUnit;
        if (pico != decimal.Truncate(pico))
        {
            problem = $"'{text}' has more than 12 decimal places: money is kept exactly in pico-units (10^-12)";
            return null;
        }
        if (pico > 1_000_000_000_000_000m)
        {
            problem = $"'{text}' is more than 1,000,000 per token";
            return null;
        }
        return (long)pico;
    }

    /// <summary>Pico-units as currency units, exact.</summary>
    public static decimal ToMoney(long pico) => pico / PicoPerUnit;
}
