using System.CommandLine;
using System.Text.Json;
using Sluice.Cli.Options;
using Sluice.Engine.Caching;
using Sluice.Engine.Sampling;
using Sluice.Engine.Serving;
using Sluice.Engine.Threading;
using Sluice.Engine.Tokenization;

namespace Sluice.Cli.Commands;

/// <summary>`sluice generate`: one completion from the command line (llama-cli's sampling defaults).</summary>
internal static class GenerateCommand
{
    private const int TopLogprobsInJson = 10;

    /// <summary>The flags that set each sampling field, for messages.</summary>
    private static readonly Dictionary<string, string> FlagOf = new(StringComparer.Ordinal)
    {
        ["max_tokens"] = "--max-tokens",
        ["temperature"] = "--temperature",
        ["top_p"] = "--top-p",
        ["top_k"] = "--top-k",
        ["min_p"] = "--min-p",
        ["repetition_penalty"] = "--repetition-penalty",
    };

    public static Command Create()
    {
        var model = new Option<string?>("--model", "-m") { Description = "GGUF file or Hugging Face folder (default: the built-in demo model)" };
        var prompt = new Option<string>("--prompt", "-p") { Description = "Prompt text", Required = true };
        var maxTokens = Flags.Int("--max-tokens", 64, 1, int.MaxValue, "Tokens to generate (prompt plus these must fit the model's context)", "-n");
        var temperature = Flags.Float("--temperature", 0.8f, "0 is greedy");
        var topP = Flags.Float("--top-p", 0.95f);
        var topK = Flags.Int("--top-k", 40, -1, int.MaxValue, "0 or -1 keeps all");
        var minP = Flags.Float("--min-p", 0.05f);
        var repetitionPenalty = Flags.Float("--repetition-penalty", 1f, "Penalty for tokens already in the prompt or output; 1 is off");
        var seed = Flags.OptionalSeed("--seed", "Seed for sampling (default: random)");
        var ignoreEos = new Option<bool>("--ignore-eos") { Description = "Keep generating past end-of-generation tokens" };
        var json = new Option<bool>("--json") { Description = "Print one JSON object with token ids, text and top-10 logprobs per position" };
        var threads = Flags.OptionalInt("--threads", 1, WorkerPool.MaxThreads, "Kernel threads (default: all cores)", "-t");
        var noParseSpecial = new Option<bool>("--no-parse-special")
        {
            Description = "Read special-token text such as <|im_start|> in --prompt as plain text (default: as the special token, like the server)",
        };
        var cmd = new Command("generate", "Generate a completion for a prompt.")
        {
            model, prompt, maxTokens, temperature, topP, topK, minP, repetitionPenalty, seed, ignoreEos, json, threads, noParseSpecial,
        };
        cmd.SetAction(async (parse, ct) =>
        {
            var stdout = parse.InvocationConfiguration.Output;
            var stderr = parse.InvocationConfiguration.Error;
            return await CliErrors.RunAsync(parse, async () =>
            {
                var sampling = new SamplingParams
                {
                    MaxTokens = parse.GetValue(maxTokens),
                    Temperature = parse.GetValue(temperature),
                    TopP = parse.GetValue(topP),
                    TopK = parse.GetValue(topK),
                    MinP = parse.GetValue(minP),
                    RepetitionPenalty = parse.GetValue(repetitionPenalty),
                    Seed = parse.GetValue(seed),
                    IgnoreEos = parse.GetValue(ignoreEos),
                    Logprobs = parse.GetValue(json) ? TopLogprobsInJson : null,
                };
                // every flag is checked before the model loads, so a typo costs no load
                sampling.Validate(int.MaxValue, field => FlagOf.GetValueOrDefault(field, field));
                string text = parse.GetValue(prompt)!;
                CheckPrompt(text);
                using var loaded = ModelSource.Load(parse.GetValue(model), stderr);
                int context = loaded.Config.ContextLength;
                int[] promptIds;
                try
                {
                    // as the server's /v1/completions, llama-cli and llama-server read a text prompt
                    promptIds = loaded.Tokenizer.Encode(text, addSpecial: true, parseSpecial: !parse.GetValue(noParseSpecial), maxTokens: context);
                }
                catch (TokenLimitExceededException)
                {
                    throw new ArgumentException($"--prompt has more tokens than the model's context length {context}");
                }
                if (promptIds.Length == 0)
                {
                    throw new ArgumentException("--prompt gives no tokens");
                }
                long needed = (long)promptIds.Length + sampling.MaxTokens;
                if (needed > context)
                {
                    throw new ArgumentException($"--max-tokens {sampling.MaxTokens} plus the prompt's {promptIds.Length} tokens is {needed}, more than the model's context length {context}");
                }
                var options = new EngineOptions
                {
                    MaxNumSeqs = 1,
                    MaxModelLen = Math.Min(context, Math.Max((int)needed, 16)),
                    Threads = parse.GetValue(threads),
                    KvCacheMemory = PagedKvCache.BytesPerBlock(loaded.Config.BlockCount, loaded.Config.HeadCountKv, loaded.Config.HeadDim, 16, KvCacheType.F16) * ((needed + 15) / 16 + 1),
                };
                using var engine = new LlmEngine(loaded, options);
                var handle = engine.Submit(new GenerationRequest { Id = "cli", PromptTokens = promptIds, Sampling = sampling, CancellationToken = ct });
                var ids = new List<int>();
                var output = new System.Text.StringBuilder();
                var tops = new List<TokenLogprob[]>();
                await foreach (var ev in handle.Events.ReadAllAsync(CancellationToken.None))
                {
                    if (ev.Token >= 0)
                    {
                        ids.Add(ev.Token);
                        tops.Add(ev.TopLogprobs ?? []);
                    }
                    output.Append(ev.Text);
                    if (!parse.GetValue(json))
                    {
                        stdout.Write(ev.Text);
                        stdout.Flush();
                    }
                }
                if (parse.GetValue(json))
                {
                    stdout.WriteLine(ToJson(promptIds, ids, output.ToString(), tops));
                }
                else
                {
                    stdout.WriteLine();
                }
                return 0;
            });
        });
        return cmd;
    }

    /// <summary>Refuses an empty prompt and one that is not valid Unicode (a lone UTF-16 surrogate).</summary>
    internal static void CheckPrompt(string text)
    {
        if (text.Length == 0)
        {
            throw new ArgumentException("--prompt is empty");
        }
        for (int i = 0; i < text.Length; i++)
        {
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(text[i]))
            {
                throw new ArgumentException($"--prompt is not valid Unicode: a lone surrogate U+{(int)text[i]:X4} at character {i}");
            }
        }
    }

    internal static string ToJson(int[] prompt, List<int> ids, string text, List<TokenLogprob[]> tops)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteStartArray("prompt_token_ids");
            foreach (var t in prompt)
            {
                w.WriteNumberValue(t);
            }
            w.WriteEndArray();
            w.WriteStartArray("token_ids");
            foreach (var t in ids)
            {
                w.WriteNumberValue(t);
            }
            w.WriteEndArray();
            w.WriteString("text", text);
            w.WriteStartArray("top_logprobs");
            foreach (var pos in tops)
            {
                w.WriteStartArray();
                foreach (var tl in pos)
                {
                    w.WriteStartObject();
                    w.WriteNumber("id", tl.Token);
                    w.WriteNumber("logprob", tl.Logprob);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(ms.ToArray());
    }
}
