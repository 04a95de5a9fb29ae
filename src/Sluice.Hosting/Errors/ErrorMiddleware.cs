using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;
using Microsoft.Extensions.Logging;
using Sluice.Hosting.Requests;
using Sluice.OpenAi;

namespace Sluice.Hosting.Errors;

/// <summary>
/// Turns every failure of a request into OpenAI's error JSON with the right status, and tells the host's
/// <see cref="IRequestErrorObserver"/> (which counts rejections by reason and publishes their records). Nothing a
/// client sends can take another client down: a bad request ends here as a 4xx; a server fault as a logged 500.
/// </summary>
internal sealed partial class ErrorMiddleware(RequestDelegate next, SluiceHostingOptions options, ILogger<ErrorMiddleware> log, IRequestErrorObserver? observer = null)
{
    public async Task InvokeAsync(HttpContext context)
    {
        try
        {
            await next(context);
        }
        catch (Exception ex) when (ex is ClientGoneException
            || (context.RequestAborted.IsCancellationRequested && ex is OperationCanceledException or BadHttpRequestException or IOException))
        {
            // the client went away (mid-body or mid-answer): nobody to answer, counted as cancelled
            observer?.RequestEnded(context, SluiceStatusCodes.ClientClosedRequest, RequestOutcome.Cancelled, AdmissionRejection.Cancelled, "client disconnected");
        }
        catch (ApiException ex)
        {
            await WriteAsync(context, ex);
        }
        catch (BadHttpRequestException ex)
        {
            await WriteAsync(context, ex.StatusCode switch
            {
                StatusCodes.Status413PayloadTooLarge => ApiException.BodyTooLarge(options.MaxRequestBodySize),
                StatusCodes.Status408RequestTimeout => BodyTimeout(context),
                _ => ApiException.BadRequest($"Bad HTTP request: {ex.Message}"),
            });
        }
        catch (Exception ex)
        {
            LogUnhandled(log, ex, RequestInfo.Id(context), context.Request.Path);
            await WriteAsync(context, ApiException.Internal($"Internal server error ({ex.GetType().Name}); see the server log for request {RequestInfo.Id(context)}."));
        }
    }

    private async Task WriteAsync(HttpContext context, ApiException error)
    {
        if (!error.Recorded)
        {
            observer?.RequestEnded(context, error.Status, error.Reason is null ? RequestOutcome.Failed : RequestOutcome.Rejected, error.Reason, error.Message);
        }
        LogRejected(log, RequestInfo.Id(context), error.Status, error.Message);
        if (context.Response.HasStarted)
        {
            return;
        }
        context.Response.Clear();
        context.Response.StatusCode = error.Status;
        context.Response.ContentType = "application/json";
        if (error.RetryAfterSeconds is { } seconds)
        {
            context.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        if (error.Status == StatusCodes.Status401Unauthorized)
        {
            context.Response.Headers.WWWAuthenticate = "Bearer";
        }
        if (error.Reason is AdmissionRejection.Draining or AdmissionRejection.BodyTooLarge || error.CloseConnection)
        {
            context.Response.Headers.Connection = "close";
        }
        // the request id header set on arrival was cleared with the response
        context.Response.Headers[RequestInfo.Header] = RequestInfo.Id(context);
        await context.Response.Body.WriteAsync(JsonSerializer.SerializeToUtf8Bytes(error.ToResponse(), OpenAiJson.Web.ErrorResponse));
    }

    /// <summary>Kestrel's 408 while the body is read: the body came slower than the connection's minimum data rate.</summary>
    private static ApiException BodyTimeout(HttpContext context)
    {
        var rate = context.Features.Get<IHttpMinRequestBodyDataRateFeature>()?.MinDataRate;
        return ApiException.BodyTimeout(rate?.BytesPerSecond ?? 240, rate?.GracePeriod ?? TimeSpan.FromSeconds(5));
    }

    [LoggerMessage(EventId = 201, Level = LogLevel.Error, Message = "Request {RequestId} {Path} failed")]
    private static partial void LogUnhandled(ILogger log, Exception ex, string requestId, string path);

    [LoggerMessage(EventId = 202, Level = LogLevel.Debug, Message = "Request {RequestId} answered {Status}: {Message}")]
    private static partial void LogRejected(ILogger log, string requestId, int status, string message);
}
