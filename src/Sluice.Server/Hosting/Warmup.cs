using System.Diagnostics;
using Sluice.Engine.Sampling;
using Sluice.Engine.Serving;
using Sluice.Engine.Templates;
using Sluice.Engine.Tokenization;
using Sluice.Server.Chat;

namespace Sluice.Server.Hosting;

/// <summary>
/// A short generation through every code path a request can take (chat template, greedy with logprobs
/// and a stop string, seeded sampling with n = 2 and penalties, a prompt sharing a cached prefix), so the
/// JIT and the caches are warm before the server reports ready and the first user does not pay for them.
/// </summary>
internal static class Warmup
{
    public static async Task<TimeSpan> RunAsync(LlmEngine engine, ChatPromptBuilder chat, Tokenizer tokenizer, CancellationToken ct)
    {
        var watch = Stopwatch.StartNew();
        var conversation = new ChatConversation([new ChatMessage("system", "You are a helpful assistant."), new ChatMessage("user", "Say hello.")]);
        int[] chatPrompt = chat.Build(conversation);
        int[] text = tokenizer.Encode("The quick brown fox jumps over the lazy dog.", addSpecial: true, parseSpecial: true);
        int maxTokens = Math.Max(1, Math.Min(4, engine.MaxModelLen - Math.Max(chatPrompt.Length, text.Length) - 1));
        var requests = new List<GenerationRequest>();
        if (chatPrompt.Length + maxTokens <= engine.MaxModelLen)
        {
            requests.Add(new GenerationRequest
            {
                Id = "warmup-chat",
                PromptTokens = chatPrompt,
                Sampling = new SamplingParams { Temperature = 0, MaxTokens = maxTokens, Logprobs = 2, Stop = ["\n\n"] },
                CancellationToken = ct,
            });
        }
        if (text.Length + maxTokens <= engine.MaxModelLen)
        {
            requests.Add(new GenerationRequest
            {
                Id = "warmup-sampled",
                PromptTokens = text,
                Sampling = new SamplingParams
                {
                    Temperature = 0.8f,
                    TopK = 40,
                    TopP = 0.95f,
                    MinP = 0.05f,
                    PresencePenalty = 0.1f,
                    FrequencyPenalty = 0.1f,
                    RepetitionPenalty = 1.1f,
                    N = Math.Min(2, engine.Options.MaxNumSeqs),
                    Seed = 1,
                    MaxTokens = maxTokens,
                },
                CancellationToken = ct,
            });
        }
        var handles = requests.Select(engine.Submit).ToList();
        foreach (var handle in handles)
        {
            await foreach (var _ in handle.Events.ReadAllAsync(ct))
            {
            }
        }
        return watch.Elapsed;
    }
}
