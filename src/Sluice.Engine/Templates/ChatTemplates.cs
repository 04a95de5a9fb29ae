namespace Sluice.Engine.Templates;

/// <summary>Templates for models that ship none.</summary>
public static class ChatTemplates
{
    /// <summary>
    /// ChatML (<c>&lt;|im_start|&gt;role\ncontent&lt;|im_end|&gt;\n</c>), the most widely trained format. Multi-part
    /// content contributes its text parts; an empty assistant header follows when a generation prompt is asked for.
    /// With <c>tools</c> it writes them Hermes-style, as Qwen 2.5 and Hermes models are trained to read them: one JSON
    /// line a function within <c>&lt;tools&gt;</c> in the system turn (after the caller's system prompt), an
    /// assistant's calls as <c>&lt;tool_call&gt;{"name": ..., "arguments": ...}&lt;/tool_call&gt;</c>, and tool
    /// results as <c>&lt;tool_response&gt;</c> blocks in a user turn, consecutive results in one turn.
    /// </summary>
    public const string DefaultSource =
        "{%- macro text(content) -%}\n" +
        "{%- if content is string -%}{{- content -}}\n" +
        "{%- elif content is iterable -%}{%- for part in content if part['type'] == 'text' -%}{{- part['text'] -}}{%- endfor -%}\n" +
        "{%- endif -%}\n" +
        "{%- endmacro -%}\n" +
        "{%- set ns = namespace(first=0) -%}\n" +
        "{%- if tools -%}\n" +
        "{{- '<|im_start|>system\\n' -}}\n" +
        "{%- if messages and messages[0]['role'] == 'system' -%}{{- text(messages[0]['content']) + '\\n\\n' -}}{%- set ns.first = 1 -%}{%- endif -%}\n" +
        "{{- 'You may call one or more functions to answer. The functions, one JSON object a line:\\n<tools>' -}}\n" +
        "{%- for tool in tools -%}{{- '\\n' + (tool | tojson) -}}{%- endfor -%}\n" +
        "{{- '\\n</tools>\\n\\nTo call a function, write a JSON object with its name and arguments within <tool_call></tool_call> tags:\\n' -}}\n" +
        "{{- '<tool_call>\\n{\"name\": <function-name>, \"arguments\": <arguments-json-object>}\\n</tool_call><|im_end|>\\n' -}}\n" +
        "{%- endif -%}\n" +
        "{%- for message in messages[ns.first:] -%}\n" +
        "{%- if message['role'] == 'tool' -%}\n" +
        "{%- if loop.first or loop.previtem['role'] != 'tool' -%}{{- '<|im_start|>user' -}}{%- endif -%}\n" +
        "{{- '\\n<tool_response>\\n' + text(message['content']) + '\\n</tool_response>' -}}\n" +
        "{%- if loop.last or loop.nextitem['role'] != 'tool' -%}{{- '<|im_end|>\\n' -}}{%- endif -%}\n" +
        "{%- else -%}\n" +
        "{{- '<|im_start|>' + message['role'] + '\\n' + text(message['content']) -}}\n" +
        "{%- if message['role'] == 'assistant' and message['tool_calls'] -%}\n" +
        "{%- for call in message['tool_calls'] -%}\n" +
        "{%- if message['content'] or not loop.first -%}{{- '\\n' -}}{%- endif -%}\n" +
        "{{- '<tool_call>\\n{\"name\": \"' + call['function']['name'] + '\", \"arguments\": ' -}}\n" +
        "{%- if call['function']['arguments'] is string -%}{{- call['function']['arguments'] -}}{%- else -%}{{- call['function']['arguments'] | tojson -}}{%- endif -%}\n" +
        "{{- '}\\n</tool_call>' -}}\n" +
        "{%- endfor -%}\n" +
        "{%- endif -%}\n" +
        "{{- '<|im_end|>\\n' -}}\n" +
        "{%- endif -%}\n" +
        "{%- endfor -%}\n" +
        "{%- if add_generation_prompt -%}\n" +
        "{{- '<|im_start|>assistant\\n' -}}\n" +
        "{%- endif -%}\n";

    public static ChatTemplate Default { get; } = ChatTemplate.Parse(DefaultSource);
}
