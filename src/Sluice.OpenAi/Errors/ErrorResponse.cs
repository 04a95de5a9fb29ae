namespace Sluice.OpenAi;

/// <summary>
/// OpenAI's error body, <c>{"error": {"message", "type", "param", "code"}}</c> (param and code written as null when
/// absent), also sent as one event inside a stream that fails after it started.
/// </summary>
public sealed record ErrorResponse(ErrorDetail Error);

/// <summary>What went wrong: a message for people, the error type (invalid_request_error, server_error, ...), the
/// request field at fault and a stable code.</summary>
public sealed record ErrorDetail(string Message, string Type, string? Param, string? Code);
