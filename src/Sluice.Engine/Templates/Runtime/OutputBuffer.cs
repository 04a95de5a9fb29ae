using System.Text;

namespace Sluice.Engine.Templates.Runtime;

/// <summary>Where rendered text goes; refuses to grow past <see cref="TemplateLimits.MaxOutputLength"/>.</summary>
internal sealed class OutputBuffer(int maxLength)
{
    private readonly StringBuilder _text = new();

    public void Append(string text)
    {
        if (_text.Length + (long)text.Length > maxLength)
        {
            throw Errors.Limit($"the rendered output grew past {maxLength} characters");
        }

        _text.Append(text);
    }

    public override string ToString() => _text.ToString();
}
