namespace Sluice.OpenAi;

/// <summary>Chat's log-probabilities: one content entry per token, each with its top alternatives.</summary>
public sealed record ChatLogprobs(List<ChatTokenLogprob> Content);

public sealed record ChatTokenLogprob(string Token, float Logprob, List<int> Bytes, List<ChatTopLogprob> TopLogprobs);

public sealed record ChatTopLogprob(string Token, float Logprob, List<int> Bytes);
