using EasyIm.Contracts.Gateway;
using MassTransit;

namespace EasyIm.Hosting.Presence;

/// <summary>A send of pushes to one gateway's own endpoint, as messaging's lanes and friends' targeted pushes make it.</summary>
public static class GatewaySends
{
    /// <summary>Bounds a bus message's size whatever the batch.</summary>
    public const int MaxPushesPerMessage = 1000;

    /// <summary>
    /// Sends <paramref name="pushes"/> to the endpoint at <paramref name="address"/>, in bus messages of at most
    /// <see cref="MaxPushesPerMessage"/>, within <paramref name="timeout"/>; null when sent, else the error (the caller
    /// publishes them to every gateway instead). Sends go through the bus, not a consume context: on RabbitMQ the
    /// context's sends share the consuming channel, which a refused declaration closes.
    /// </summary>
    public static async Task<Exception?> TrySendAsync(IBus bus, string address, IReadOnlyList<UserPush> pushes, TimeSpan timeout,
        CancellationToken cancellationToken)
    {
        try
        {
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            limit.CancelAfter(timeout);
            var endpoint = await bus.GetSendEndpoint(new Uri(address));
            foreach (var chunk in pushes.Chunk(MaxPushesPerMessage))
                await endpoint.Send(new PushToUsers(chunk), limit.Token);
            return null;
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            return ex;
        }
    }
}
