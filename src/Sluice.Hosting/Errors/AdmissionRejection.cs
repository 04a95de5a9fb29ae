namespace Sluice.Hosting.Errors;

/// <summary>
/// Why a host turned a request away or ended it early (the hosting layer's vocabulary; the engine's own refusals are
/// the engine's <c>EngineRejection</c>); each is counted (<see cref="RejectionCounters"/>) and its snake_case name is
/// the metric label value.
/// </summary>
public enum AdmissionRejection
{
    /// <summary>429: the waiting queue (--max-num-queued-reqs) is full.</summary>
    QueueFull,

    /// <summary>429: the prompt tokens waiting for prefill (--max-num-queued-tokens) would exceed their bound.</summary>
    QueuedTokensFull,

    /// <summary>400: prompt (plus max_tokens) longer than the context.</summary>
    TooLong,

    /// <summary>400: malformed JSON, strings that are not valid Unicode, wrong types, bad parameter values; 408: a body sent too slowly.</summary>
    InvalidRequest,

    /// <summary>401: missing or wrong API key.</summary>
    Unauthorized,

    /// <summary>404: a model this server does not serve.</summary>
    ModelNotFound,

    /// <summary>404 or 405: no such route, or not with that method.</summary>
    UnknownRoute,

    /// <summary>413: request body over --max-request-body-size.</summary>
    BodyTooLarge,

    /// <summary>503: the model is loading or warming up, or the engine stalled.</summary>
    NotReady,

    /// <summary>503: the server is draining for shutdown.</summary>
    Draining,

    /// <summary>The request ran past --request-timeout.</summary>
    Timeout,

    /// <summary>The client went away before the request finished.</summary>
    Cancelled,
}
