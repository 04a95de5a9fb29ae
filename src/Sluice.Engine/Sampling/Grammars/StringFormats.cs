namespace Sluice.Engine.Sampling.Grammars;

/// <summary>
/// JSON Schema's <c>format</c>s that a grammar can hold exactly, as anchored patterns over the string's value: date
/// (RFC 3339 full-date, days per month, 29 February in leap years only), time (RFC 3339 full-time with its offset;
/// leap seconds are not written), date-time, uuid (RFC 4122's hex form), email (a dot-atom local part and a host name,
/// RFC 5321's common form; quoted local parts and address literals are not written), ipv4 (dotted quad, no leading zeros).
/// </summary>
public static class StringFormats
{
    private const string Leap = @"(\d\d(0[48]|[2468][048]|[13579][26])|([02468][048]|[13579][26])00)";
    private const string Date = @"(\d{4}-(0[1-9]|1[0-2])-(0[1-9]|1\d|2[0-8])|\d{4}-(0[13-9]|1[0-2])-(29|30)|\d{4}-(0[13578]|1[02])-31|" + Leap + "-02-29)";
    private const string Time = @"([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d+)?([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d)";
    private const string Hex = "[0-9a-fA-F]";
    private const string Atom = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+";
    private const string Label = "[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?";
    private const string Octet = @"(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)";

    public static IReadOnlyList<string> Names { get; } = ["date", "time", "date-time", "uuid", "email", "ipv4"];

    /// <summary>The anchored pattern of <paramref name="format"/>, or null when it is not one of <see cref="Names"/>.</summary>
    public static string? Pattern(string format) => format switch
    {
        "date" => "^" + Date + "$",
        "time" => "^" + Time + "$",
        "date-time" => "^" + Date + "[Tt]" + Time + "$",
        "uuid" => $"^{Hex}{{8}}-{Hex}{{4}}-{Hex}{{4}}-{Hex}{{4}}-{Hex}{{12}}$",
        "email" => $@"^{Atom}(\.{Atom})*@{Label}(\.{Label})*$",
        "ipv4" => $@"^{Octet}(\.{Octet}){{3}}$",
        _ => null,
    };
}
