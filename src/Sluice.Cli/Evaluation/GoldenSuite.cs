using System.Text.RegularExpressions;
using Sluice.Cli.Options;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Sluice.Cli.Evaluation;

/// <summary>One golden prompt: a completion prompt or chat messages, and the checks its greedy output must pass.</summary>
internal sealed record GoldenCase(
    string Name,
    string? Prompt,
    IReadOnlyList<(string Role, string Content)>? Messages,
    int MaxTokens,
    string? Exact,
    IReadOnlyList<string> Contains,
    Regex? Pattern,
    bool Json,
    TimeSpan? MaxLatency)
{
    public int CheckCount => (Exact is null ? 0 : 1) + Contains.Count + (Pattern is null ? 0 : 1) + (Json ? 1 : 0) + (MaxLatency is null ? 0 : 1);
}

/// <summary>
/// A golden-prompt suite, read from YAML:
/// <code>
/// model: my-model          # optional: the server's first model otherwise
/// max_tokens: 32           # optional default for every case
/// cases:
///   - name: capital
///     prompt: "The capital of France is"      # or messages: [{role: user, content: ...}]
///     contains: Paris                          # a string or a list
///     regex: "^\\s*Paris"
///     exact: " Paris."
///     json: true                               # the output parses as JSON
///     max_latency: 2s
/// </code>
/// Every case needs a name (unique), a prompt or messages (not both), and at least one check; anything else is
/// an error naming the case and the key.
/// </summary>
internal sealed record GoldenSuite(string? Model, IReadOnlyList<GoldenCase> Cases)
{
    private static readonly string[] CaseKeys = ["name", "prompt", "messages", "max_tokens", "exact", "contains", "regex", "json", "max_latency"];
    private static readonly string[] TopKeys = ["model", "max_tokens", "cases"];

    public static GoldenSuite Load(string path)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"--suite '{path}': no such file", path);
        }
        var stream = new YamlStream();
        try
        {
            using var reader = new StreamReader(path);
            stream.Load(reader);
        }
        catch (YamlException ex)
        {
            throw new FormatException($"{path}: not valid YAML: {ex.Message}");
        }
        if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is not YamlMappingNode root)
        {
            throw new FormatException($"{path}: expected a mapping with a 'cases' list");
        }
        var top = Keys(root, TopKeys, $"{path}");
        string? model = top.TryGetValue("model", out var m) ? Scalar(m, $"{path}: model") : null;
        int maxTokens = top.TryGetValue("max_tokens", out var mt) ? PositiveInt(mt, $"{path}: max_tokens") : 32;
        if (!top.TryGetValue("cases", out var casesNode) || casesNode is not YamlSequenceNode { Children.Count: > 0 } cases)
        {
            throw new FormatException($"{path}: 'cases' must be a non-empty list");
        }
        var list = new List<GoldenCase>();
        var names = new HashSet<string>();
        for (int i = 0; i < cases.Children.Count; i++)
        {
            var c = ReadCase(cases.Children[i], $"{path}: case {i + 1}", maxTokens);
            if (!names.Add(c.Name))
            {
                throw new FormatException($"{path}: case {i + 1}: the name '{c.Name}' is used twice");
            }
            list.Add(c);
        }
        return new GoldenSuite(model, list);
    }

    private static GoldenCase ReadCase(YamlNode node, string where, int defaultMaxTokens)
    {
        if (node is not YamlMappingNode map)
        {
            throw new FormatException($"{where}: expected a mapping (name, prompt or messages, checks)");
        }
        var nameNode = map.Children.FirstOrDefault(e => e.Key is YamlScalarNode { Value: "name" }).Value
            ?? throw new FormatException($"{where}: has no 'name'");
        string name = Scalar(nameNode, $"{where}: name");
        where = $"{where} ('{name}')";
        var k = Keys(map, CaseKeys, where);
        string? prompt = k.TryGetValue("prompt", out var p) ? Scalar(p, $"{where}: prompt") : null;
        List<(string, string)>? messages = k.TryGetValue("messages", out var msgs) ? Messages(msgs, where) : null;
        if ((prompt is null) == (messages is null))
        {
            throw new FormatException($"{where}: give exactly one of 'prompt' and 'messages'");
        }
        var contains = new List<string>();
        if (k.TryGetValue("contains", out var cn))
        {
            contains.AddRange(cn is YamlSequenceNode seq ? seq.Children.Select(x => Scalar(x, $"{where}: contains")) : [Scalar(cn, $"{where}: contains")]);
        }
        Regex? pattern = null;
        if (k.TryGetValue("regex", out var r))
        {
            string text = Scalar(r, $"{where}: regex");
            try
            {
                pattern = new Regex(text, RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
            }
            catch (ArgumentException ex)
            {
                throw new FormatException($"{where}: regex '{text}' does not compile: {ex.Message}");
            }
        }
        bool json = k.TryGetValue("json", out var j) && Scalar(j, $"{where}: json") switch
        {
            "true" => true,
            "false" => false,
            var v => throw new FormatException($"{where}: json must be true or false, got '{v}'"),
        };
        TimeSpan? latency = null;
        if (k.TryGetValue("max_latency", out var ml))
        {
            try
            {
                latency = Duration.Parse(Scalar(ml, $"{where}: max_latency"));
            }
            catch (FormatException ex)
            {
                throw new FormatException($"{where}: max_latency {ex.Message}");
            }
        }
        var c = new GoldenCase(name, prompt, messages, k.TryGetValue("max_tokens", out var mt) ? PositiveInt(mt, $"{where}: max_tokens") : defaultMaxTokens,
            k.TryGetValue("exact", out var e) ? Scalar(e, $"{where}: exact") : null, contains, pattern, json, latency);
        return c.CheckCount > 0 ? c : throw new FormatException($"{where}: has no check (exact, contains, regex, json or max_latency)");
    }

    private static List<(string, string)> Messages(YamlNode node, string where)
    {
        if (node is not YamlSequenceNode { Children.Count: > 0 } seq)
        {
            throw new FormatException($"{where}: messages must be a non-empty list of {{role, content}}");
        }
        var list = new List<(string, string)>();
        foreach (var item in seq.Children)
        {
            var m = item is YamlMappingNode map ? Keys(map, ["role", "content"], $"{where}: messages") : throw new FormatException($"{where}: each message is a mapping of role and content");
            if (!m.TryGetValue("role", out var role) || !m.TryGetValue("content", out var content))
            {
                throw new FormatException($"{where}: each message needs a role and a content");
            }
            list.Add((Scalar(role, $"{where}: role"), Scalar(content, $"{where}: content")));
        }
        return list;
    }

    private static Dictionary<string, YamlNode> Keys(YamlMappingNode map, string[] known, string where)
    {
        var d = new Dictionary<string, YamlNode>();
        foreach (var (key, value) in map.Children)
        {
            string name = key is YamlScalarNode { Value: { } v } ? v : throw new FormatException($"{where}: keys must be plain names");
            if (!known.Contains(name))
            {
                throw new FormatException($"{where}: unknown key '{name}' (known: {string.Join(", ", known)})");
            }
            d[name] = value;
        }
        return d;
    }

    private static string Scalar(YamlNode node, string where) =>
        node is YamlScalarNode { Value: { } v } ? v : throw new FormatException($"{where} must be a single value");

    private static int PositiveInt(YamlNode node, string where)
    {
        string text = Scalar(node, where);
        return int.TryParse(text, out int v) && v >= 1 && v <= 1 << 20 ? v : throw new FormatException($"{where} must be a whole number from 1 to {1 << 20}, got '{text}'");
    }
}
