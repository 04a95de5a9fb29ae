using Microsoft.AspNetCore.Http;

namespace Sluice.Hosting.Errors;

/// <summary>
/// Told of every request the <see cref="ErrorMiddleware"/> ends that its route had not recorded itself: a rejection,
/// a failure, or a client that went away. The host counts it and publishes its record (the server: a RequestRecord).
/// </summary>
public interface IRequestErrorObserver
{
    /// <param name="status">The status answered (499 when nobody was left to answer).</param>
    /// <param name="reason">The rejection it counts as; null for a server fault.</param>
    void RequestEnded(HttpContext context, int status, RequestOutcome outcome, AdmissionRejection? reason, string message);
}
