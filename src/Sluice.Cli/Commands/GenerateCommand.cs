using System.CommandLine;
using System.Text.Json;
using Sluice.Cli.Options;
using Sluice.Engine.Formats;
using Sluice.Engine.Sampling;
using Sluice.Engine.Serving;

namespace Sluice.Cli.Commands;

/// <summary>`sluice generate`: one completion from the command line (llama-cli's sampling defaults).</summary>
internal static class GenerateCommand
{
    private const int TopLogprobsInJson = 10;

    public static Command Create()
    {
        var model = new Option<string?>("--model", "-m") { Description = "GGUF file or Hugging Face folder (default: the built-in demo model)" };
        var prompt = new Option<string>("--prompt", "-p") { Description = "Prompt text", Required = true };
        var maxTokens = new Option<int>("--max-tokens", "-n") { Description = "Tokens to generate", DefaultValueFactory = _ => 64 };
        var temperature = new Option<float>("--temperature") { Description = "0 is greedy", DefaultValueFactory = _ => 0.8f };
        var topP = new Option<float>("--top-p") { DefaultValueFactory = _ => 0.95f };
        var topK = new Option<int>("--top-k") { DefaultValueFactory = _ => 40 };
        var minP = new Option<float>("--min-p") { DefaultValueFactory = _ => 0.05f };
        var seed = new Option<ulong?>("--seed") { Description = "Seed for sampling (default: random)" };
        var ignoreEos = new Option<bool>("--ignore-eos") { Description = "Keep generating past end-of-generation tokens" };
        var json = new Option<bool>("--json") { Description = "Print one JSON object with token ids, text and top-10 logprobs per position" };
        var threads = new Option<int?>("--threads", "-t") { Description = "Kernel threads (default: all cores)" };
        var cmd = new Command("generate", "Generate a completion for a prompt.")
        {
            model, prompt, maxTokens, temperature, topP, topK, minP, seed, ignoreEos, json, threads,
        };
        cmd.SetAction(async (parse, ct) =>
        {
            var stdout = parse.InvocationConfiguration.Output;
            var stderr = parse.InvocationConfiguration.Error;
            try
            {
                using var loaded = ModelSource.Load(parse.GetValue(model), stderr);
                var sampling = new SamplingParams
                {
                    MaxTokens = parse.GetValue(maxTokens),
                    Temperature = parse.GetValue(temperature),
                    TopP = parse.GetValue(topP),
                    TopK = parse.GetValue(topK),
                    MinP = parse.GetValue(minP),
                    Seed = parse.GetValue(seed),
                    IgnoreEos = parse.GetValue(ignoreEos),
                    Logprobs = parse.GetValue(json) ? TopLogprobsInJson : null,
                };
                var promptIds = loaded.Tokenizer.Encode(parse.GetValue(prompt)!, addSpecial: true);
                int needed = promptIds.Length + sampling.MaxTokens;
                var options = new EngineOptions
                {
                    MaxNumSeqs = 1,
                    MaxModelLen = Math.Min(loaded.Config.ContextLength, Math.Max(needed, 16)),
                    Threads = parse.GetValue(threads),
                    KvCacheMemory = Engine.Caching.PagedKvCache.BytesPerBlock(loaded.Config.BlockCount, loaded.Config.HeadCountKv, loaded.Config.HeadDim, 16, Engine.Caching.KvCacheType.F16) * ((needed + 15) / 16 + 1),
                };
                using var engine = new LlmEngine(loaded, options);
                var handle = engine.Submit(new GenerationRequest { Id = "cli", PromptTokens = promptIds, Sampling = sampling, CancellationToken = ct });
                var ids = new List<int>();
                var text = new System.Text.StringBuilder();
                var tops = new List<TokenLogprob[]>();
                await foreach (var ev in handle.Events.ReadAllAsync(CancellationToken.None))
                {
                    if (ev.Token >= 0)
                    {
                        ids.Add(ev.Token);
                        tops.Add(ev.TopLogprobs ?? []);
                    }
                    text.Append(ev.Text);
                    if (!parse.GetValue(json))
                    {
                        stdout.Write(ev.Text);
                        stdout.Flush();
                    }
                }
                if (parse.GetValue(json))
                {
                    stdout.WriteLine(ToJson(promptIds, ids, text.ToString(), tops));
                }
                else
                {
                    stdout.WriteLine();
                }
                return 0;
            }
            catch (Exception ex) when (ex is ModelFormatException or RequestRejectedException or ArgumentException or IOException)
            {
                stderr.WriteLine("error: " + ex.Message);
                return 2;
            }
        });
        return cmd;
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
