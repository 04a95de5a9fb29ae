using Sluice.OpenAi;

namespace Sluice.Hosting.Errors;

/// <summary>
/// A request that ends with an error response in OpenAI's shape
/// (<c>{"error": {"message", "type", "param", "code"}}</c>); thrown anywhere in a route, written by one middleware.
/// </summary>
public sealed class ApiException(int status, string message, string type, string? code, AdmissionRejection? reason, string? param = null)
    : Exception(message)
{
    public int Status { get; } = status;
    public string Type { get; } = type;
    public string? Code { get; } = code;
    public string? Param { get; } = param;

    /// <summary>The rejection this error counts as, if any (server faults count nowhere here).</summary>
    public AdmissionRejection? Reason { get; } = reason;

    /// <summary>True when the route already published this request's record (with its timings): the error middleware then only answers.</summary>
    public bool Recorded { get; set; }

    /// <summary>Seconds for the Retry-After header of a 429 or 503.</summary>
    public int? RetryAfterSeconds { get; init; }

    /// <summary>True when the connection must close after the answer (the rest of the request will not be read).</summary>
    public bool CloseConnection { get; init; }

    public static ApiException BadRequest(string message, string? param = null) =>
        new(400, message, "invalid_request_error", null, AdmissionRejection.InvalidRequest, param);

    /// <summary>A prompt (plus max_tokens) longer than the context; <paramref name="param"/> is the field the prompt came from.</summary>
    public static ApiException TooLong(string message, string param) =>
        new(400, message, "invalid_request_error", "context_length_exceeded", AdmissionRejection.TooLong, param);

    public static ApiException Unauthorized(string message) =>
        new(401, message, "invalid_request_error", "invalid_api_key", AdmissionRejection.Unauthorized);

    public static ApiException ModelNotFound(string model) =>
        new(404, $"The model `{model}` does not exist.", "invalid_request_error", "model_not_found", AdmissionRejection.ModelNotFound, "model");

    public static ApiException NotFound(string path) =>
        new(404, $"No route for {path}.", "invalid_request_error", "not_found", AdmissionRejection.UnknownRoute);

    public static ApiException MethodNotAllowed(string method, string path) =>
        new(405, $"{method} is not allowed on {path}.", "invalid_request_error", "method_not_allowed", AdmissionRejection.UnknownRoute);

    public static ApiException BodyTooLarge(long limit) =>
        new(413, $"The request body is larger than the limit of {limit} bytes (--max-request-body-size).", "invalid_request_error", "request_too_large", AdmissionRejection.BodyTooLarge);

    public static ApiException QueueFull(string message, int retryAfter, AdmissionRejection reason) =>
        new(429, message, "rate_limit_error", "rate_limit_exceeded", reason) { RetryAfterSeconds = retryAfter };

    public static ApiException Unavailable(string message, AdmissionRejection reason) =>
        new(503, message, "server_error", "service_unavailable", reason);

    public static ApiException Timeout(TimeSpan limit) =>
        new(408, $"The request did not finish within the server's request timeout of {limit.TotalSeconds:0.###} s (--request-timeout).", "timeout_error", "request_timeout", AdmissionRejection.Timeout);

    /// <summary>
    /// 408: the client sent the headers, then the body more slowly than Kestrel's MinRequestBodyDataRate (a stalled or
    /// trickling upload). The client's doing, so counted as an invalid request, not as a server timeout.
    /// </summary>
    public static ApiException BodyTimeout(double bytesPerSecond, TimeSpan gracePeriod) =>
        new(408, string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"The request body arrived too slowly: the server reads a body at no less than {bytesPerSecond:0.###} bytes/s after the first {gracePeriod.TotalSeconds:0.###} s and stopped waiting for the rest."),
            "timeout_error", "request_timeout", AdmissionRejection.InvalidRequest)
        { CloseConnection = true };

    public static ApiException Internal(string message) =>
        new(500, message, "server_error", "internal_error", null);

    /// <summary>The error as OpenAI's body (also one event of a stream that fails after it started).</summary>
    public ErrorResponse ToResponse() => new(new ErrorDetail(Message, Type, Param, Code));
}
