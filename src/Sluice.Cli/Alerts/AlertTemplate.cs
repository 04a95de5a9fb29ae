using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Sluice.Cli.Alerts;

/// <summary>One parameter of an alert-rules template: its name, kind, default and what it sets.</summary>
internal sealed record AlertVariable(string Name, string Kind, string Default, string Description);

/// <summary>
/// A Prometheus rules file with parameters (deploy/prometheus/*.template.yml): each parameter is declared on a line
/// <c>#@ name (label|number) = default: what it sets</c> and used as <c>${name}</c>; rendering drops the declarations
/// and puts a value in every use. Prometheus' own <c>{{ $labels.x }}</c> and <c>$value</c> never take this form, so they
/// pass through. A label value may not hold a quote, backslash or line break (it lands in a PromQL string); a number is
/// a plain decimal.
/// </summary>
internal sealed partial class AlertTemplate
{
    private readonly string[] _body;

    private AlertTemplate(IReadOnlyList<AlertVariable> variables, string[] body)
    {
        Variables = variables;
        _body = body;
    }

    public IReadOnlyList<AlertVariable> Variables { get; }

    /// <summary>Reads a template; <paramref name="source"/> names it in errors. Every use must be declared, and every declaration used.</summary>
    public static AlertTemplate Parse(string text, string source)
    {
        var variables = new List<AlertVariable>();
        var body = new List<string>();
        foreach (var line in text.Split('\n'))
        {
            if (!line.StartsWith("#@", StringComparison.Ordinal))
            {
                body.Add(line);
                continue;
            }
            var m = Declaration().Match(line);
            if (!m.Success)
            {
                throw new FormatException($"{source}: '{line}' is not a declaration: write '#@ name (label|number) = default: what it sets'");
            }
            var variable = new AlertVariable(m.Groups["name"].Value, m.Groups["kind"].Value, m.Groups["default"].Value, m.Groups["description"].Value);
            if (variables.Any(v => v.Name == variable.Name))
            {
                throw new FormatException($"{source}: variable '{variable.Name}' is declared twice");
            }
            Check(variable, variable.Default, $"{source}: the default of '{variable.Name}'");
            variables.Add(variable);
        }
        string joined = string.Join('\n', body);
        var used = Use().Matches(joined).Select(u => u.Groups["name"].Value).ToHashSet(StringComparer.Ordinal);
        if (used.FirstOrDefault(u => variables.All(v => v.Name != u)) is { } undeclared)
        {
            throw new FormatException($"{source}: uses ${{{undeclared}}} but declares no variable '{undeclared}'");
        }
        if (variables.FirstOrDefault(v => !used.Contains(v.Name)) is { } unused)
        {
            throw new FormatException($"{source}: declares '{unused.Name}' but never uses it");
        }
        return new AlertTemplate(variables, [.. body]);
    }

    /// <summary>The rules with <paramref name="values"/> (by variable name) and the defaults for the rest; an unknown name or a bad value is an error naming it.</summary>
    public string Render(IReadOnlyDictionary<string, string> values)
    {
        foreach (var (name, value) in values)
        {
            var variable = Variables.FirstOrDefault(v => v.Name == name)
                ?? throw new ArgumentException($"unknown variable '{name}': this template has {string.Join(", ", Variables.Select(v => v.Name))}");
            Check(variable, value, $"'{name}'");
        }
        var text = new StringBuilder();
        foreach (var line in _body)
        {
            text.Append(Use().Replace(line, u => values.TryGetValue(u.Groups["name"].Value, out var v) ? v : Variables.First(x => x.Name == u.Groups["name"].Value).Default));
            text.Append('\n');
        }
        text.Length--; // the split added no line break after the last line
        return text.ToString();
    }

    private static void Check(AlertVariable variable, string value, string what)
    {
        bool ok = variable.Kind switch
        {
            "label" => value.Length > 0 && value.IndexOfAny(['"', '\\', '\n', '\r']) < 0,
            _ => NumberText().IsMatch(value) && double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out _),
        };
        if (!ok)
        {
            throw new ArgumentException(variable.Kind == "label"
                ? $"{what} must be a label value without quotes, backslashes or line breaks, not '{value}'"
                : $"{what} must be a plain decimal number such as 2 or 0.5, not '{value}'");
        }
    }

    [GeneratedRegex(@"^#@ (?<name>[a-z][a-z0-9_]*) \((?<kind>label|number)\) = (?<default>[^:]+): (?<description>.+)$")]
    private static partial Regex Declaration();

    [GeneratedRegex(@"\$\{(?<name>[A-Za-z0-9_]+)\}")]
    private static partial Regex Use();

    [GeneratedRegex(@"^[0-9]+(\.[0-9]+)?$")]
    private static partial Regex NumberText();
}
