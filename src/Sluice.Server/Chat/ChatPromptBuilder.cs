using Microsoft.Extensions.Logging;
using Sluice.Engine.Templates;
using Sluice.Engine.Tokenization;
using Sluice.Hosting.Errors;
using Sluice.Hosting.Tracing;
using Sluice.Server.Chat.ToolCalls;
using Sluice.Server.Requests;

namespace Sluice.Server.Chat;

/// <summary>
/// Chat messages to prompt tokens: the model's own chat template (ChatML when it ships none or one that
/// does not parse), rendered with the model's BOS/EOS texts, then tokenized with special tokens parsed.
/// BOS is added only when the model wants one and the template did not already write it, so the prompt
/// never starts with two (the mistake llama.cpp warns about).
/// </summary>
public sealed partial class ChatPromptBuilder
{
    private readonly Tokenizer _tokenizer;
    private readonly string? _bos;
    private readonly string? _eos;

    public ChatPromptBuilder(Tokenizer tokenizer, ILogger log)
    {
        _tokenizer = tokenizer;
        _bos = tokenizer.BosId >= 0 ? tokenizer.TokenText(tokenizer.BosId) : null;
        _eos = tokenizer.EosId >= 0 ? tokenizer.TokenText(tokenizer.EosId) : null;
        Template = ChatTemplates.Default;
        IsDefault = true;
        if (tokenizer.ChatTemplate is { Length: > 0 } source)
        {
            try
            {
                Template = ChatTemplate.Parse(source);
                IsDefault = false;
            }
            catch (TemplateException ex)
            {
                LogTemplateUnusable(log, ex.Message);
            }
        }
        else
        {
            LogNoTemplate(log);
        }
    }

    public ChatTemplate Template { get; }

    /// <summary>True when the model had no usable template and ChatML is used.</summary>
    public bool IsDefault { get; }

    /// <summary>How the model writes tool calls, as its template tells (the generic template's Hermes style by default).</summary>
    public ToolCallFormat ToolFormat => IsDefault ? ToolCallFormat.Hermes : ToolCallFormat.Of(_tokenizer.ChatTemplate);

    /// <summary>
    /// Whether the <c>tools</c> offered reach the prompt: the template renders them, or it is a ChatML template
    /// without tools, for which a conversation with tools is rendered by the generic template (ChatML with tools).
    /// </summary>
    public bool RendersTools => IsDefault || OwnRendersTools || IsChatMl;

    private bool OwnRendersTools => _tokenizer.ChatTemplate?.Contains("tools", StringComparison.Ordinal) ?? false;

    private bool IsChatMl => _tokenizer.ChatTemplate?.Contains("<|im_start|>", StringComparison.Ordinal) ?? false;

    /// <summary>The template a conversation renders with: the model's, or the generic one for tools its ChatML one lacks.</summary>
    private ChatTemplate TemplateFor(ChatConversation conversation)
    {
        bool hasTools = conversation.ToolsJson is not null || conversation.Messages.Any(m => m.Role == "tool" || m.ToolCalls is { Count: > 0 });
        return hasTools && !IsDefault && !OwnRendersTools && IsChatMl ? ChatTemplates.Default : Template;
    }

    /// <summary>Renders the conversation; template errors (e.g. roles that must alternate) become 400s.</summary>
    public string Render(ChatConversation conversation)
    {
        var context = new ChatTemplateContext
        {
            Messages = conversation.Messages,
            AddGenerationPrompt = conversation.AddGenerationPrompt && !conversation.ContinueFinalMessage,
            BosToken = _bos,
            EosToken = _eos,
            ToolsJson = conversation.ToolsJson,
            Extra = conversation.TemplateKwargs,
        };
        string text;
        try
        {
            text = TemplateFor(conversation).Render(context);
        }
        catch (TemplateException ex)
        {
            throw ApiException.BadRequest($"The chat template rejected the messages: {ex.Message}", "messages");
        }
        if (conversation.ContinueFinalMessage && conversation.Messages[^1].Content is { Length: > 0 } last)
        {
            int at = text.LastIndexOf(last, StringComparison.Ordinal);
            if (at >= 0)
            {
                text = text[..(at + last.Length)];
            }
        }
        return text;
    }

    /// <summary>The prompt's token ids; a 400 naming 'messages' once it has more than <paramref name="maxTokens"/>.</summary>
    public int[] Tokenize(string rendered, int maxTokens = int.MaxValue)
    {
        bool templateWroteBos = _bos != null && rendered.StartsWith(_bos, StringComparison.Ordinal);
        int[] ids;
        try
        {
            ids = _tokenizer.Encode(rendered, addSpecial: _tokenizer.AddBos && !templateWroteBos, parseSpecial: true, maxTokens);
        }
        catch (TokenLimitExceededException ex)
        {
            throw PromptErrors.TooLong(ex, "messages");
        }
        if (ids.Length >= 2 && ids[0] == _tokenizer.BosId && ids[1] == _tokenizer.BosId)
        {
            ids = ids[1..];
        }
        return ids;
    }

    public int[] Build(ChatConversation conversation, int maxTokens = int.MaxValue, RequestStages? stages = null) => BuildRendered(conversation, maxTokens, stages).Ids;

    /// <summary>The rendered prompt text and its tokens (POST /tokenize shows both); rendering and tokenizing timed into <paramref name="stages"/>.</summary>
    public (string Text, int[] Ids) BuildRendered(ChatConversation conversation, int maxTokens = int.MaxValue, RequestStages? stages = null)
    {
        // the messages alone may be too long to fit: refuse before rendering them into a still longer string
        long characters = conversation.Messages.Sum(m => (long)(m.Content?.Length ?? 0));
        if (characters > (long)maxTokens * _tokenizer.Vocabulary.LongestPieceChars)
        {
            throw PromptErrors.TooLong(new TokenLimitExceededException(maxTokens, characters), "messages");
        }
        long started = stages?.Start() ?? 0;
        string text = Render(conversation);
        if (stages is not null)
        {
            stages.Stop(RequestStage.TemplateRender, started);
            started = stages.Start();
        }
        var ids = Tokenize(text, maxTokens);
        stages?.Stop(RequestStage.Tokenize, started);
        return (text, ids);
    }

    [LoggerMessage(EventId = 121, Level = LogLevel.Warning, Message = "The model's chat template does not parse ({Reason}); chat requests use ChatML instead")]
    private static partial void LogTemplateUnusable(ILogger log, string reason);

    [LoggerMessage(EventId = 122, Level = LogLevel.Information, Message = "The model ships no chat template; chat requests use ChatML")]
    private static partial void LogNoTemplate(ILogger log);
}
