using System.CommandLine;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Sluice.Cli.Options;

/// <summary>
/// A YAML settings file (--config) for a command: keys are the command's long option names without the
/// dashes (<c>max-num-seqs: 32</c>; underscores work too, as in vLLM's config files), values scalars or
/// lists. Settings given on the command line win over the file's.
/// </summary>
internal static class ConfigFile
{
    /// <summary>The command line with the file's settings added for every option the command line leaves out.</summary>
    public static ParseResult Merge(ParseResult parse, Command command, string path)
    {
        var extra = new List<string>();
        foreach (var (key, values) in Read(path))
        {
            string name = "--" + key.TrimStart('-').Replace('_', '-');
            var option = command.Options.FirstOrDefault(o => o.Name == name || o.Aliases.Contains(name))
                ?? throw new FormatException($"{path}: unknown setting '{key}' (settings are `sluice {command.Name}` options without the dashes)");
            if (name == "--config")
            {
                throw new FormatException($"{path}: a config file cannot name another config file");
            }
            if (parse.GetResult(option) is { Implicit: false })
            {
                continue;
            }
            bool isFlag = option.ValueType == typeof(bool) || option.ValueType == typeof(bool?);
            foreach (var value in values)
            {
                extra.Add(option.Name);
                if (!isFlag || !value.Equals("true", StringComparison.OrdinalIgnoreCase))
                {
                    extra.Add(value);
                }
            }
        }
        var args = parse.Tokens.Select(t => t.Value).Concat(extra).ToArray();
        return parse.RootCommandResult.Command.Parse(args);
    }

    /// <summary>The file's settings: each key with its value, or the items of its list.</summary>
    public static List<(string Key, List<string> Values)> Read(string path)
    {
        var yaml = new YamlStream();
        try
        {
            using var reader = new StreamReader(path);
            yaml.Load(reader);
        }
        catch (YamlException ex)
        {
            throw new FormatException($"{path}: not valid YAML ({ex.Message})", ex);
        }
        var settings = new List<(string, List<string>)>();
        if (yaml.Documents.Count == 0)
        {
            return settings;
        }
        if (yaml.Documents[0].RootNode is not YamlMappingNode root)
        {
            throw new FormatException($"{path}: expected a mapping of settings (key: value)");
        }
        foreach (var (keyNode, valueNode) in root.Children)
        {
            string key = (keyNode as YamlScalarNode)?.Value ?? throw new FormatException($"{path}: setting names must be plain strings");
            var values = valueNode switch
            {
                YamlScalarNode s => [s.Value ?? ""],
                YamlSequenceNode seq => seq.Children.Select(c => (c as YamlScalarNode)?.Value
                    ?? throw new FormatException($"{path}: '{key}' must be a list of plain values")).ToList(),
                _ => throw new FormatException($"{path}: '{key}' must be a value or a list of values"),
            };
            settings.Add((key, values));
        }
        return settings;
    }
}
