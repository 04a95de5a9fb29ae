using System.Buffers.Binary;
using System.Text;

namespace Sluice.Server.Tests.Observability;

/// <summary>
/// A span as an OTLP collector receives it, read straight from the protobuf wire format
/// (ExportTraceServiceRequest → ResourceSpans → ScopeSpans → Span), enough of it for the tests.
/// </summary>
internal sealed record OtlpSpan(string Scope, string Name, string TraceId, string SpanId, string ParentSpanId, ulong StartNanos, ulong EndNanos,
    IReadOnlyDictionary<string, string> Attributes, int StatusCode)
{
    public static IEnumerable<OtlpSpan> ParseExport(byte[] body)
    {
        foreach (var resourceSpans in Fields(body).Where(f => f.Number == 1))
        {
            foreach (var scopeSpans in Fields(resourceSpans.Bytes).Where(f => f.Number == 2))
            {
                var fields = Fields(scopeSpans.Bytes).ToList();
                string scope = fields.Where(f => f.Number == 1).Select(f => Text(Fields(f.Bytes).FirstOrDefault(g => g.Number == 1).Bytes)).FirstOrDefault() ?? "";
                foreach (var span in fields.Where(f => f.Number == 2))
                {
                    yield return ParseSpan(scope, span.Bytes);
                }
            }
        }
    }

    private static OtlpSpan ParseSpan(string scope, byte[] span)
    {
        string traceId = "", spanId = "", parent = "", name = "";
        ulong start = 0, end = 0;
        int status = 0;
        var attributes = new Dictionary<string, string>();
        foreach (var f in Fields(span))
        {
            switch (f.Number)
            {
                case 1: traceId = Convert.ToHexStringLower(f.Bytes); break;
                case 2: spanId = Convert.ToHexStringLower(f.Bytes); break;
                case 4: parent = Convert.ToHexStringLower(f.Bytes); break;
                case 5: name = Text(f.Bytes); break;
                case 7: start = f.Value; break;
                case 8: end = f.Value; break;
                case 9:
                    var kv = Fields(f.Bytes).ToList();
                    attributes[Text(kv.First(x => x.Number == 1).Bytes)] = AnyValue(kv.FirstOrDefault(x => x.Number == 2).Bytes ?? []);
                    break;
                case 15: status = (int)Fields(f.Bytes).Where(x => x.Number == 3).Select(x => x.Value).FirstOrDefault(); break;
            }
        }
        return new OtlpSpan(scope, name, traceId, spanId, parent, start, end, attributes, status);
    }

    /// <summary>AnyValue as text: string, bool, int, double or array (comma-joined).</summary>
    private static string AnyValue(byte[] value)
    {
        foreach (var f in Fields(value))
        {
            return f.Number switch
            {
                1 => Text(f.Bytes),
                2 => f.Value != 0 ? "true" : "false",
                3 => ((long)f.Value).ToString(System.Globalization.CultureInfo.InvariantCulture),
                4 => BitConverter.UInt64BitsToDouble(f.Value).ToString(System.Globalization.CultureInfo.InvariantCulture),
                5 => string.Join(',', Fields(f.Bytes).Where(x => x.Number == 1).Select(x => AnyValue(x.Bytes))),
                _ => "",
            };
        }
        return "";
    }

    private static string Text(byte[]? bytes) => bytes is null ? "" : Encoding.UTF8.GetString(bytes);

    private readonly record struct Field(int Number, ulong Value, byte[] Bytes);

    private static IEnumerable<Field> Fields(byte[] message)
    {
        int pos = 0;
        while (pos < message.Length)
        {
            ulong tag = Varint(message, ref pos);
            int number = (int)(tag >> 3);
            switch ((int)(tag & 7))
            {
                case 0:
                    yield return new Field(number, Varint(message, ref pos), []);
                    break;
                case 1:
                    yield return new Field(number, BinaryPrimitives.ReadUInt64LittleEndian(message.AsSpan(pos, 8)), []);
                    pos += 8;
                    break;
                case 2:
                    int length = (int)Varint(message, ref pos);
                    yield return new Field(number, 0, message.AsSpan(pos, length).ToArray());
                    pos += length;
                    break;
                case 5:
                    yield return new Field(number, BinaryPrimitives.ReadUInt32LittleEndian(message.AsSpan(pos, 4)), []);
                    pos += 4;
                    break;
                default:
                    throw new FormatException($"unexpected protobuf wire type {tag & 7}");
            }
        }
    }

    private static ulong Varint(byte[] b, ref int pos)
    {
        ulong value = 0;
        for (int shift = 0; ; shift += 7)
        {
            byte x = b[pos++];
            value |= (ulong)(x & 0x7f) << shift;
            if (x < 0x80)
            {
                return value;
            }
        }
    }
}
