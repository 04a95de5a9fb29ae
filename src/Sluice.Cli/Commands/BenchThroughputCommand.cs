using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Sluice.Cli.Options;
using Sluice.Cli.Output;
using Sluice.Engine.Sampling;
using Sluice.Engine.Sampling.Grammars;
using Sluice.Engine.Serving;
using Sluice.Engine.Threading;
using Sluice.Engine.Tokenization;

namespace Sluice.Cli.Commands;

/// <summary>
/// `sluice bench throughput`: offline throughput as vLLM's benchmark measures it: every request
/// submitted at once (random prompts of --input-len tokens, --output-len tokens each, EOS ignored),
/// reporting requests/s and output tokens/s over the whole run.
/// </summary>
internal static class BenchThroughputCommand
{
    public static Command Create()
    {
        var model = new Option<string?>("--model", "-m") { Description = "Model file or folder (default: the built-in demo model)" };
        var prompts = Flags.Int("--num-prompts", 64, 1, MaxPrompts, "Requests");
        var input = Flags.Int("--input-len", 128, 1, int.MaxValue, "Prompt tokens per request (with --output-len, within the model's context)");
        var output = Flags.Int("--output-len", 128, 1, int.MaxValue, "Generated tokens per request");
        var maxSeqs = Flags.Int("--max-num-seqs", 64, 1, EngineOptions.MaxSequences, "Sequences running at once");
        var maxTokens = Flags.Int("--max-num-batched-tokens", 512, 1, EngineOptions.MaxBatchedTokens, "Tokens per engine step");
        var kvMemory = new Option<string?>("--kv-cache-memory") { Description = "KV cache size, e.g. 2GiB" };
        var threads = Flags.OptionalInt("--threads", 1, WorkerPool.MaxThreads, "Kernel threads (default: all cores)", "-t");
        var seed = Flags.Int("--seed", 0, 0, int.MaxValue, "Seed of the random prompts");
        var json = new Option<bool>("--json") { Description = "Print one JSON object" };
        var schema = new Option<string?>("--json-schema") { Description = "Constrain every output to this JSON schema file, or 'builtin' (an array of records; structured outputs)" };
        var cmd = new Command("throughput", "Offline throughput: all requests at once, as vLLM's throughput benchmark.")
        {
            model, prompts, input, output, maxSeqs, maxTokens, kvMemory, threads, seed, json, schema,
        };
        cmd.SetAction(async (parse, ct) =>
        {
            var o = parse.InvocationConfiguration.Output;
            var e = parse.InvocationConfiguration.Error;
            return await CliErrors.RunAsync(parse, async () =>
            {
                int n = parse.GetValue(prompts), inLen = parse.GetValue(input), outLen = parse.GetValue(output);
                if ((long)n * inLen > MaxPromptTokens)
                {
                    throw new ArgumentException($"--num-prompts {n} x --input-len {inLen} is {(long)n * inLen:N0} prompt tokens; at most {MaxPromptTokens:N0}");
                }
                var kv = parse.GetValue(kvMemory);
                var options = new EngineOptions
                {
                    MaxNumSeqs = parse.GetValue(maxSeqs),
                    MaxNumBatchedTokens = parse.GetValue(maxTokens),
                    KvCacheMemory = kv == null ? null : ByteSize.Parse(kv, "--kv-cache-memory"),
                    Threads = parse.GetValue(threads),
                };
                options.Validate();
                using var loaded = ModelSource.Load(parse.GetValue(model), e);
                int context = loaded.Config.ContextLength;
                if ((long)inLen + outLen > context)
                {
                    throw new ArgumentException($"--input-len {inLen} plus --output-len {outLen} is {(long)inLen + outLen}, more than the model's context length {context}");
                }
                using var engine = new LlmEngine(loaded, options with { MaxModelLen = Math.Min(context, inLen + outLen + 16) });
                var requests = RandomPrompts(loaded.Tokenizer, n, inLen, parse.GetValue(seed));
                var grammar = parse.GetValue(schema) is { } schemaFile ? Constraint(schemaFile, loaded.Tokenizer) : null;
                // warm-up before the clock, as vLLM's engine profiles before its benchmark is timed: the first
                // forward passes repack quantized weights and compile the kernels (its own prompt, so the
                // prefix cache gives the timed requests nothing)
                var warm = engine.Submit(new GenerationRequest
                {
                    Id = "bench-warmup",
                    PromptTokens = RandomPrompts(loaded.Tokenizer, 1, Math.Min(16, inLen), unchecked(parse.GetValue(seed) + 1))[0],
                    Sampling = new SamplingParams { Temperature = 0, MaxTokens = Math.Min(2, outLen), IgnoreEos = true },
                    CancellationToken = ct,
                });
                await foreach (var _ in warm.Events.ReadAllAsync(CancellationToken.None))
                {
                }
                var bar = new ProgressBar(e, n, "requests");
                var clock = Stopwatch.StartNew();
                int done = 0;
                long tokens = 0;
                var tasks = requests.Select((p, i) => Task.Run(async () =>
                {
                    var h = engine.Submit(new GenerationRequest
                    {
                        Id = $"bench-{i}",
                        PromptTokens = p,
                        Sampling = new SamplingParams { Temperature = 0, MaxTokens = outLen, IgnoreEos = true, Grammar = grammar },
                        CancellationToken = ct,
                    });
                    await foreach (var ev in h.Events.ReadAllAsync(CancellationToken.None))
                    {
                        if (ev.Token >= 0)
                        {
                            Interlocked.Increment(ref tokens);
                        }
                    }
                    int d = Interlocked.Increment(ref done);
                    double s = clock.Elapsed.TotalSeconds;
                    bar.Report(d, string.Create(CultureInfo.InvariantCulture, $"{Interlocked.Read(ref tokens) / s:F1} output tok/s"));
                })).ToArray();
                await Task.WhenAll(tasks);
                double seconds = clock.Elapsed.TotalSeconds;
                double rps = n / seconds, tps = tokens / seconds;
                if (parse.GetValue(json))
                {
                    o.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
                    {
                        ["requests_per_s"] = Math.Round(rps, 3),
                        ["output_tokens_per_s"] = Math.Round(tps, 2),
                        ["total_tokens_per_s"] = Math.Round((tokens + (long)n * inLen) / seconds, 2),
                        ["elapsed_s"] = Math.Round(seconds, 3),
                        ["num_prompts"] = n,
                        ["input_len"] = inLen,
                        ["output_len"] = outLen,
                        ["json_schema"] = parse.GetValue(schema) ?? "",
                    }));
                }
                else
                {
                    o.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"Throughput: {rps:F2} requests/s, {tps:F1} output tokens/s, {(tokens + (long)n * inLen) / seconds:F1} total tokens/s ({n} requests x {inLen} in / {outLen} out in {seconds:F1} s)"));
                }
                return 0;
            });
        });
        return cmd;
    }

    private static GrammarMatcher Constraint(string schemaFile, Tokenizer tokenizer)
    {
        try
        {
            return new GrammarMatcher(JsonSchemaCompiler.Compile(Benchmarking.BenchSchema.Read(schemaFile)), TokenTrie.For(tokenizer));
        }
        catch (Exception ex) when (ex is GrammarException or JsonException)
        {
            throw new ArgumentException($"--json-schema {schemaFile}: {ex.Message}");
        }
    }

    /// <summary>Most --num-prompts.</summary>
    internal const int MaxPrompts = 1_000_000;

    /// <summary>Most prompt tokens of one run (--num-prompts x --input-len), held in memory at once: 256 MiB of ids.</summary>
    internal const long MaxPromptTokens = 1L << 26;

    /// <summary>Prompts of random ordinary tokens (no control tokens), BOS first when the model adds one.</summary>
    internal static List<int[]> RandomPrompts(Tokenizer tokenizer, int count, int length, int seed)
    {
        var ordinary = Enumerable.Range(0, tokenizer.VocabSize).Where(t => tokenizer.TokenType(t) == TokenType.Normal).ToArray();
        if (ordinary.Length == 0)
        {
            throw new ArgumentException("the model's vocabulary has no ordinary token to make random prompts of");
        }
        var rng = new Random(seed);
        var list = new List<int[]>(count);
        for (int i = 0; i < count; i++)
        {
            var p = new int[length];
            int start = 0;
            if (tokenizer.AddBos && tokenizer.BosId >= 0)
            {
                p[0] = tokenizer.BosId;
                start = 1;
            }
            for (int j = start; j < length; j++)
            {
                p[j] = ordinary[rng.Next(ordinary.Length)];
            }
            list.Add(p);
        }
        return list;
    }
}
