using EasyIm.Contracts;
using EasyIm.Hosting.Bus;
using MassTransit;
using Microsoft.AspNetCore.Http;

namespace EasyIm.Gateway.Http;

/// <summary>Asks a service over the bus and turns its answer into the API's envelope.</summary>
public static class ServiceCalls
{
    public static async Task<IResult> AskAsync<TRequest, TReply, TData>(
        IRequestClient<TRequest> client, TRequest request, Func<TReply, TData> toData, CancellationToken cancellationToken, string msg = "success")
        where TRequest : class
        where TReply : class
    {
        try
        {
            var response = await client.GetResponse<TReply, RequestRejected>(request, cancellationToken, BusSetup.RequestTimeout);
            if (response.Is(out Response<TReply>? ok))
                return ApiResults.Ok(toData(ok.Message), msg);
            response.Is(out Response<RequestRejected>? rejected);
            var (code, message, field, retryAfter) = rejected!.Message;
            return retryAfter is > 0
                ? ApiResults.FailRetryAfter(code, message, retryAfter.Value, field)
                : ApiResults.Fail(code, message, field);
        }
        catch (RequestTimeoutException)
        {
            return ApiResults.Fail(StatusCodes.Status503ServiceUnavailable, "the service did not answer in time; try again");
        }
    }
}
