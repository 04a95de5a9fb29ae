namespace Sluice.Engine.Templates;

/// <summary>Templates for models that ship none.</summary>
public static class ChatTemplates
{
    /// <summary>
    /// ChatML (<c>&lt;|im_start|&gt;role\ncontent&lt;|im_end|&gt;\n</c>), the most widely trained format. Multi-part
    /// content contributes its text parts; an empty assistant header follows when a generation prompt is asked for.
    /// </summary>
    public const string DefaultSource =
        "{%- for message in messages -%}\n" +
        "{{- '<|im_start|>' + message['role'] + '\\n' -}}\n" +
        "{%- if message['content'] is string -%}\n" +
        "{{- message['content'] -}}\n" +
        "{%- elif message['content'] is iterable -%}\n" +
        "{%- for part in message['content'] if part['type'] == 'text' -%}{{- part['text'] -}}{%- endfor -%}\n" +
        "{%- endif -%}\n" +
        "{{- '<|im_end|>\\n' -}}\n" +
        "{%- endfor -%}\n" +
        "{%- if add_generation_prompt -%}\n" +
        "{{- '<|im_start|>assistant\\n' -}}\n" +
        "{%- endif -%}\n";

    public static ChatTemplate Default { get; } = ChatTemplate.Parse(DefaultSource);
}
