using System.Text;
using System.Text.Json.Serialization.Metadata;
using Sluice.Engine.Serving;

namespace Sluice.Server.Generation;

/// <summary>
/// What a generation route answers when it does not stream: it gathers each choice's text (and, through
/// <see cref="OnToken"/>, whatever else the route reports per token), then makes its JSON body.
/// </summary>
internal abstract class AnswerBuilder<TAnswer>(GenerationJob job, JsonTypeInfo<TAnswer> type)
{
    private readonly StringBuilder[] _texts = [.. Enumerable.Range(0, job.Choices).Select(_ => new StringBuilder())];

    public JsonTypeInfo<TAnswer> Type => type;

    protected GenerationJob Job => job;

    public void Add(ChoiceEvent e)
    {
        if (e.Event.Token >= 0)
        {
            OnToken(e, _texts[e.Choice].Length);
        }
        else
        {
            OnEnd(e);
        }
        _texts[e.Choice].Append(e.Event.Text);
    }

    /// <summary>An event that carries no token: a sequence's end (an embedding's vector comes with it).</summary>
    protected virtual void OnEnd(ChoiceEvent e)
    {
    }

    /// <summary>The body, once the session has ended completed.</summary>
    public abstract TAnswer Build(GenerationSession session);

    /// <summary>A generated token of a choice, whose text starts at <paramref name="textOffset"/> of the choice's text.</summary>
    protected virtual void OnToken(ChoiceEvent e, int textOffset)
    {
    }

    protected string TextOf(int choice) => _texts[choice].ToString();

    /// <summary>A finished choice's finish_reason ("stop" for one that ended without saying why).</summary>
    protected static string FinishOf(GenerationSession session, int choice) => FinishReasons.ToApi(session.FinishOf(choice) ?? FinishReason.Stop);
}
