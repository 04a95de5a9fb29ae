using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Sluice.Cli.Benchmarking;

/// <summary>The kinds of request `sluice bench soak` mixes.</summary>
internal enum SoakKind
{
    Completion,
    Chat,

    /// <summary>A completion or chat request with n = 2..4.</summary>
    MultiChoice,

    /// <summary>A valid request the client walks away from (after some events of its stream, or after some milliseconds).</summary>
    Cancelled,

    /// <summary>Malformed JSON, invalid UTF-8, lone surrogates, out-of-range or mistyped fields, prompts past the context.</summary>
    BadInput,
}

/// <summary>One request of the soak: where it goes, its body, and when (if ever) the client aborts it.</summary>
internal sealed record SoakRequest(SoakKind Kind, string Path, byte[] Body, bool Stream, string Label)
{
    /// <summary>Abort after reading this many server-sent events; -1 never.</summary>
    public int CancelAfterEvents { get; init; } = -1;

    /// <summary>Abort this many milliseconds after sending; -1 never.</summary>
    public int CancelAfterMs { get; init; } = -1;

    public bool Valid => Kind != SoakKind.BadInput;
}

/// <summary>
/// Draws soak requests from a seeded generator: 30% completions, 25% chat (each streamed half the time), 10% n > 1,
/// 15% requests the client aborts at a random point, 20% bad input. Valid requests stay short (8-64 tokens out)
/// so a long soak exercises admission, batching and cancellation many times over.
/// </summary>
internal sealed class SoakMix(Random rng, string model, int maxModelLen)
{
    private static readonly byte[][] BadUtf8 = [[0xff], [0xc3], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0x80]];

    public SoakRequest Next()
    {
        int r = rng.Next(100);
        if (r < 30)
        {
            return Valid(SoakKind.Completion, chat: false, n: 1, maxTokens: rng.Next(8, 65));
        }
        if (r < 55)
        {
            return Valid(SoakKind.Chat, chat: true, n: 1, maxTokens: rng.Next(8, 65));
        }
        if (r < 65)
        {
            return Valid(SoakKind.MultiChoice, chat: rng.Next(2) == 0, n: rng.Next(2, 5), maxTokens: rng.Next(8, 33));
        }
        if (r < 80)
        {
            var request = Valid(SoakKind.Cancelled, chat: rng.Next(2) == 0, n: 1, maxTokens: rng.Next(32, 129), stream: rng.Next(10) < 7);
            return request.Stream
                ? request with { CancelAfterEvents = rng.Next(0, 12), Label = request.Label + ", aborted mid-stream" }
                : request with { CancelAfterMs = rng.Next(0, 300), Label = request.Label + ", aborted" };
        }
        return Bad();
    }

    private SoakRequest Valid(SoakKind kind, bool chat, int n, int maxTokens, bool? stream = null)
    {
        bool streamed = stream ?? rng.Next(2) == 0;
        string prompt = Prompt(rng.Next(4, 64));
        var body = Json(w =>
        {
            w.WriteString("model", model);
            ServeLoadGenerator.WritePrompt(w, chat, prompt);
            w.WriteNumber("max_tokens", maxTokens);
            w.WriteNumber("temperature", Math.Round(rng.NextDouble(), 2));
            w.WriteNumber("seed", rng.Next());
            if (n > 1)
            {
                w.WriteNumber("n", n);
            }
            if (rng.Next(4) == 0)
            {
                w.WriteBoolean("ignore_eos", true);
            }
            w.WriteBoolean("stream", streamed);
            if (streamed && rng.Next(2) == 0)
            {
                w.WriteStartObject("stream_options");
                w.WriteBoolean("include_usage", true);
                w.WriteEndObject();
            }
        });
        string label = $"{(chat ? "chat" : "completion")}{(n > 1 ? $" n={n}" : "")}{(streamed ? " stream" : "")}";
        return new SoakRequest(kind, chat ? "v1/chat/completions" : "v1/completions", body, streamed, label);
    }

    private SoakRequest Bad()
    {
        bool chat = rng.Next(2) == 0;
        string path = chat ? "v1/chat/completions" : "v1/completions";
        string field = chat ? "messages" : "prompt";
        byte[] Text(byte[] inner) => chat
            ? Concat("{\"model\": \"", model, "\", \"messages\": [{\"role\": \"user\", \"content\": \"", inner, "\"}], \"max_tokens\": 8}")
            : Concat("{\"model\": \"", model, "\", \"prompt\": \"", inner, "\", \"max_tokens\": 8}");
        byte[] Field(string name, string value) => chat
            ? Concat("{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"", name, "\": ", value, "}")
            : Concat("{\"prompt\": \"hi\", \"", name, "\": ", value, "}");
        switch (rng.Next(8))
        {
            case 0:
                {
                    var valid = Field("max_tokens", "8");
                    int cut = rng.Next(1, valid.Length - 1);
                    return new SoakRequest(SoakKind.BadInput, path, valid[..cut], false, "malformed JSON (cut short)");
                }
            case 1:
                return new SoakRequest(SoakKind.BadInput, path, Text(Concat("hello ", BadUtf8[rng.Next(BadUtf8.Length)], " world")), false, $"invalid UTF-8 in {field}");
            case 2:
                return new SoakRequest(SoakKind.BadInput, path, Text(Encoding.ASCII.GetBytes("hello \\ud800 world")), false, $"lone surrogate in {field}");
            case 3:
                {
                    var (name, value) = Pick(("temperature", "-1"), ("temperature", "1000"), ("top_p", "2"), ("n", "0"), ("n", "100000"), ("max_tokens", "-5"),
                        ("presence_penalty", "9"), ("min_p", "1.5"), ("top_k", "-7"), ("logit_bias", "{\"-3\": 5}"));
                    return new SoakRequest(SoakKind.BadInput, path, Field(name, value), false, $"{name} out of range");
                }
            case 4:
                {
                    var (name, value) = Pick(("max_tokens", "\"ten\""), ("stream", "\"yes\""), ("temperature", "[]"), ("stop", "{}"), ("n", "1.5"), ("seed", "\"x\""));
                    return new SoakRequest(SoakKind.BadInput, path, Field(name, value), false, $"{name} of the wrong type");
                }
            case 5:
                {
                    // past the context: one word per token or more, whatever the tokenizer
                    string prompt = Prompt(maxModelLen + 64);
                    return new SoakRequest(SoakKind.BadInput, path, Text(Encoding.UTF8.GetBytes(prompt)), false, "prompt longer than the context");
                }
            case 6:
                return new SoakRequest(SoakKind.BadInput, path, Encoding.ASCII.GetBytes(Pick("", "[]", "null", "\"text\"", "{\"prompt\": ")), false, "not a JSON object");
            default:
                return new SoakRequest(SoakKind.BadInput, path, chat ? Encoding.ASCII.GetBytes("{\"messages\": [{\"role\": \"nobody\", \"content\": 5}]}") : Encoding.ASCII.GetBytes("{\"prompt\": [1, -2, \"x\"]}"),
                    false, chat ? "bad message" : "bad token ids");
        }
    }

    private T Pick<T>(params T[] items) => items[rng.Next(items.Length)];

    private string Prompt(int words) => BenchPrompts.Make(1, words, rng.Next())[0];

    private static byte[] Json(Action<Utf8JsonWriter> write)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            write(w);
            w.WriteEndObject();
        }
        return buffer.ToArray();
    }

    private static byte[] Concat(params object[] parts)
    {
        using var buffer = new MemoryStream();
        foreach (var p in parts)
        {
            var bytes = p as byte[] ?? Encoding.UTF8.GetBytes(Convert.ToString(p, CultureInfo.InvariantCulture) ?? "");
            buffer.Write(bytes);
        }
        return buffer.ToArray();
    }
}
