using EasyIm.Contracts.Gateway;
using EasyIm.Messaging.Delivery;
using MassTransit;

namespace EasyIm.Messaging.Consumers;

/// <summary>
/// The offline sync after a handshake: what the user has not acknowledged as ARRIVED, to that new
/// connection only. One replica does it (a shared queue), unlike presence, which every replica tracks.
/// A gateway that runs the sync itself, page by page as its client reads (<see cref="UserConnected.SyncedByGateway"/>),
/// gets nothing from here.
/// </summary>
public sealed class SyncConnectedUserConsumer(ConversationSync sync) : IConsumer<UserConnected>
{
    public Task Consume(ConsumeContext<UserConnected> context) =>
        context.Message.SyncedByGateway
            ? Task.CompletedTask
            : sync.SyncAsync(context, context.Message.UserId, context.Message.ConnectionId, context.Message.GatewayId, null);
}
