using Microsoft.AspNetCore.Http;
using Sluice.Hosting.Errors;
using Sluice.Hosting.Requests;

namespace Sluice.Server.Observability;

/// <summary>Publishes the record of each request the error middleware ends (rejected, failed, or left by its client).</summary>
internal sealed class RejectionRecords(ServerTelemetry telemetry, TimeProvider time) : IRequestErrorObserver
{
    public void RequestEnded(HttpContext context, int status, RequestOutcome outcome, AdmissionRejection? reason, string message) =>
        telemetry.Publish(new RequestRecord
        {
            RequestId = RequestInfo.Id(context),
            Route = RequestInfo.Route(context),
            StatusCode = status,
            Outcome = outcome,
            Rejection = reason,
            Duration = time.GetElapsedTime(RequestInfo.Start(context)),
            Error = message,
        });
}
