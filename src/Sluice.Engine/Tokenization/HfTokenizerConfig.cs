using System.Text.Json;
using Sluice.Engine.Formats;
using Sluice.Engine.Models.HuggingFace;

namespace Sluice.Engine.Tokenization;

/// <summary>
/// The parts of <c>tokenizer_config.json</c> (and <c>chat_template.jinja</c>) that decide BOS/EOS
/// handling and chat formatting. Special tokens are named by text (a string, or an object with
/// <c>content</c>); absent files or fields are null.
/// </summary>
public sealed record HfTokenizerConfig
{
    public const string FileName = "tokenizer_config.json";
    public const string ChatTemplateFileName = "chat_template.jinja";
    public const string DefaultTemplateName = "default";

    public string? BosToken { get; init; }
    public string? EosToken { get; init; }
    public string? UnkToken { get; init; }
    public string? PadToken { get; init; }
    public bool? AddBosToken { get; init; }
    public bool? AddEosToken { get; init; }

    /// <summary>Chat templates by name; a single template is named "default".</summary>
    public IReadOnlyDictionary<string, string> ChatTemplates { get; init; } = new Dictionary<string, string>();

    /// <summary>The "default" template, else the first one, else null.</summary>
    public string? DefaultChatTemplate =>
        ChatTemplates.TryGetValue(DefaultTemplateName, out var t) ? t : ChatTemplates.Values.FirstOrDefault();

    /// <summary>Reads the folder's tokenizer_config.json and chat_template.jinja, each if present.</summary>
    public static HfTokenizerConfig Read(string folder)
    {
        string path = Path.Combine(folder, FileName);
        var config = new HfTokenizerConfig();
        if (File.Exists(path))
        {
            using var doc = JsonFields.ParseFile(path);
            config = Read(new JsonFields(path, doc.RootElement));
        }
        string jinja = Path.Combine(folder, ChatTemplateFileName);
        if (File.Exists(jinja))
        {
            // transformers saves the template to its own file and prefers that file when both exist.
            var templates = new Dictionary<string, string>(config.ChatTemplates) { [DefaultTemplateName] = File.ReadAllText(jinja) };
            config = config with { ChatTemplates = templates };
        }
        return config;
    }

    private static HfTokenizerConfig Read(JsonFields f) => new()
    {
        BosToken = TokenText(f, "bos_token"),
        EosToken = TokenText(f, "eos_token"),
        UnkToken = TokenText(f, "unk_token"),
        PadToken = TokenText(f, "pad_token"),
        AddBosToken = f.OptionalBool("add_bos_token"),
        AddEosToken = f.OptionalBool("add_eos_token"),
        ChatTemplates = Templates(f),
    };

    private static string? TokenText(JsonFields f, string name)
    {
        if (!f.TryGet(name, out var v))
        {
            return null;
        }
        return v.ValueKind switch
        {
            JsonValueKind.String => v.GetString(),
            JsonValueKind.Object when v.TryGetProperty("content", out var c) && c.ValueKind == JsonValueKind.String => c.GetString(),
            _ => throw new ModelFormatException(f.Path, $"field '{name}' must be a token text or an object with 'content', got {v.GetRawText()}"),
        };
    }

    /// <summary>chat_template is one string, or a list of {"name", "template"} (e.g. "default" and "tool_use").</summary>
    private static Dictionary<string, string> Templates(JsonFields f)
    {
        var templates = new Dictionary<string, string>(StringComparer.Ordinal);
        if (!f.TryGet("chat_template", out var v))
        {
            return templates;
        }
        if (v.ValueKind == JsonValueKind.String)
        {
            templates[DefaultTemplateName] = v.GetString()!;
            return templates;
        }
        if (v.ValueKind != JsonValueKind.Array)
        {
            throw new ModelFormatException(f.Path, "field 'chat_template' must be a string or a list of named templates");
        }
        foreach (var e in v.EnumerateArray())
        {
            if (e.ValueKind != JsonValueKind.Object || !e.TryGetProperty("name", out var name) || name.ValueKind != JsonValueKind.String
                || !e.TryGetProperty("template", out var template) || template.ValueKind != JsonValueKind.String)
            {
                throw new ModelFormatException(f.Path, $"chat_template entry {e.GetRawText()} needs a string 'name' and 'template'");
            }
            templates[name.GetString()!] = template.GetString()!;
        }
        return templates;
    }
}
