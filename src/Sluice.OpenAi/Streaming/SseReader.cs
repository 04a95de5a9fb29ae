using System.Text;

namespace Sluice.OpenAi;

/// <summary>
/// Reads a text/event-stream as the HTML standard defines it: <c>data:</c> lines (one optional space after the colon)
/// gather into one event, which a blank line ends; <c>event:</c> names its type; comments (<c>:</c>) and other fields
/// are skipped. An event left open when the stream ends is returned too (a server cut off before its blank line).
/// </summary>
public sealed class SseReader(TextReader reader)
{
    public SseReader(Stream stream)
        : this(new StreamReader(stream, Encoding.UTF8))
    {
    }

    /// <summary>The next event, or null at the end of the stream.</summary>
    public async ValueTask<SseEvent?> ReadAsync(CancellationToken ct = default)
    {
        StringBuilder? data = null;
        string? type = null;
        while (await reader.ReadLineAsync(ct) is { } line)
        {
            if (line.Length == 0)
            {
                if (data is not null)
                {
                    return new SseEvent(type, data.ToString());
                }
                type = null; // an event without data is dropped, as browsers do
                continue;
            }
            if (line[0] == ':')
            {
                continue;
            }
            int colon = line.IndexOf(':', StringComparison.Ordinal);
            string field = colon < 0 ? line : line[..colon];
            string value = colon < 0 ? "" : line[(colon + 1)..];
            if (value.StartsWith(' '))
            {
                value = value[1..];
            }
            switch (field)
            {
                case "data":
                    data = data is null ? new StringBuilder(value) : data.Append('\n').Append(value);
                    break;
                case "event":
                    type = value;
                    break;
            }
        }
        return data is null ? null : new SseEvent(type, data.ToString());
    }

    /// <summary>Every event up to the end of the stream.</summary>
    public async IAsyncEnumerable<SseEvent> ReadAllAsync([System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct = default)
    {
        while (await ReadAsync(ct) is { } e)
        {
            yield return e;
        }
    }
}
