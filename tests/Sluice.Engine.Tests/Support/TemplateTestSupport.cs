using Sluice.Engine.Templates;

namespace Sluice.Engine.Tests.Support;

/// <summary>A clock stuck at one instant, in UTC, so <c>strftime_now</c> output is predictable.</summary>
internal sealed class FixedClock(DateTimeOffset now) : TimeProvider
{
    public static FixedClock September15 { get; } = new(new DateTimeOffset(2024, 9, 15, 10, 30, 0, TimeSpan.Zero));

    public override DateTimeOffset GetUtcNow() => now;

    public override TimeZoneInfo LocalTimeZone => TimeZoneInfo.Utc;
}

internal static class TemplateTestSupport
{
    public static string DataDirectory => Path.Combine(AppContext.BaseDirectory, "Templates", "Data");

    /// <summary>Parses and renders <paramref name="template"/> with plain variables.</summary>
    public static string Render(string template, IReadOnlyDictionary<string, object?>? variables = null, TemplateLimits? limits = null) =>
        ChatTemplate.Parse(template, limits).Render(variables ?? new Dictionary<string, object?>(), limits, FixedClock.September15);

    public static TemplateException RenderFails(string template, IReadOnlyDictionary<string, object?>? variables = null, TemplateLimits? limits = null) =>
        Assert.Throws<TemplateException>(() => Render(template, variables, limits));

    public static Dictionary<string, object?> Vars(params (string Name, object? Value)[] pairs) =>
        pairs.ToDictionary(p => p.Name, p => p.Value);
}
