using EasyIm.Contracts.Friends;
using EasyIm.Contracts.Messaging;
using EasyIm.Hosting.Bus;
using EasyIm.Messaging.Sending;
using EasyIm.Hosting.Database;
using EasyIm.Hosting.Ids;
using EasyIm.Hosting.Presence;
using EasyIm.Messaging.Authorization;
using EasyIm.Messaging.Consumers;
using EasyIm.Messaging.Data;
using EasyIm.Messaging.Delivery;
using EasyIm.Messaging.Partitions;
using EasyIm.Messaging.Retention;
using MassTransit;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EasyIm.Messaging;

public static class MessagingModule
{
    /// <summary>Messages, conversations, cursors and the friendship/membership projection; presence and routing.</summary>
    public static IHostApplicationBuilder AddMessaging(this IHostApplicationBuilder builder)
    {
        builder.AddServiceDatabase<MessagingDbContext, SqliteMessagingDbContext, PostgresMessagingDbContext>(MessagingDbContext.Service);
        builder.AddSnowflakeIds<MessagingDbContext>(MessagingDbContext.Service);
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddSingleton(MessagingOptions.Read(builder.Configuration));
        builder.Services.TryAddSingleton(PresenceOptions.Read(builder.Configuration));
        // Its own presence table, fed by its own consumer (TrackPresenceConsumer), whatever else in the process keeps one.
        builder.Services.AddSingleton(sp => new DeliveryRouter(
            sp.GetRequiredService<MessagingOptions>(),
            new PresenceTable(sp.GetRequiredService<PresenceOptions>(), sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<PresenceTable>>()),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILogger<DeliveryRouter>>()));
        builder.Services.AddSingleton<ReplayQueue>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<ReplayQueue>());
        builder.Services.AddSingleton<PushDispatcher>();
        builder.Services.AddScoped<RelationshipChecker>();
        builder.Services.AddSingleton<RelationshipAsks>();
        builder.Services.AddScoped<ConversationSync>();
        builder.Services.AddScoped<GroupWriter>();
        builder.Services.AddSingleton<SubmissionChain>();
        builder.Services.AddSingleton<SendPipeline>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<SendPipeline>());
        builder.Services.AddSingleton<MessagingInstance>();
        builder.Services.AddSingleton<InstanceMembership>();
        builder.Services.AddSingleton<ChatPartitionConsumers>();
        builder.Services.AddSingleton<MessageRetention>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<MessageRetention>());
        // One process has every partition anyway on the in-memory bus; on RabbitMQ several share them out.
        if (builder.Configuration.GetBusTransport() == BusTransport.RabbitMq)
            builder.Services.AddHostedService<PartitionBalancer>();
        return builder;
    }

    public static void AddMessagingConsumers(IBusRegistrationConfigurator bus)
    {
        bus.AddConsumer<SubmitChatMessagesConsumer>().ExcludeFromConfigureEndpoints();
        bus.AddConsumer<RecordReceiptsConsumer>();
        bus.AddConsumer<SyncConnectedUserConsumer>();
        bus.AddConsumer<SyncConversationsConsumer>();
        bus.AddConsumer<RelayTypingConsumer>();
        bus.AddConsumer<GetHistoryConsumer>();
        bus.AddConsumer<GetReceiptCursorsConsumer>();
        bus.AddConsumer<ListConversationsConsumer>();
        bus.AddConsumer<AppendStreamUpdatesConsumer, AppendStreamUpdatesConsumerDefinition>();
        bus.AddConsumer<GetUserUpdatesConsumer>();
        bus.AddConsumer<ProjectFriendshipsConsumer, ProjectFriendshipsConsumerDefinition>();
        bus.AddConsumer<ProjectGroupMembersConsumer, ProjectGroupMembersConsumerDefinition>();

        // Every replica needs every presence event: a queue of its own, gone with the replica, consumed
        // one message at a time so that each gateway's events apply in the order it published them.
        var instance = Guid.NewGuid().ToString("N")[..12];
        bus.AddConsumer<TrackPresenceConsumer>().Endpoint(e =>
        {
            e.InstanceId = instance;
            e.Temporary = true;
            e.ConcurrentMessageLimit = 1;
        });
        // Likewise every replica hears every other's heartbeat, for sharing out the chat partitions.
        var membership = Guid.NewGuid().ToString("N")[..12];
        bus.AddConsumer<TrackMessagingInstancesConsumer>().Endpoint(e =>
        {
            e.InstanceId = membership;
            e.Temporary = true;
            e.ConcurrentMessageLimit = 1;
        });
        bus.AddRequestClient<CheckRelationships>();
    }

    /// <summary>
    /// The chat partitions' endpoints (<see cref="ChatPartitions"/>): each takes one batch at a time, in
    /// queue order, and on RabbitMQ only one replica consumes a partition at a time (the others stand by),
    /// so every partition's batches reach the <see cref="SendPipeline"/> in the order the gateway sent
    /// them. Bound to nothing but their own exchange: gateways send there, nothing is published to them.
    /// </summary>
    public static void ConfigureMessagingEndpoints(IBusRegistrationContext context, IBusFactoryConfigurator bus)
    {
        var self = context.GetRequiredService<MessagingInstance>();
        var consumers = context.GetRequiredService<ChatPartitionConsumers>();
        var membership = context.GetRequiredService<InstanceMembership>();
        for (var partition = 0; partition < ChatPartitions.Count; partition++)
        {
            var p = partition;
            bus.ReceiveEndpoint(ChatPartitions.QueueName(partition), e =>
            {
                e.ConfigureConsumeTopology = false;
                e.ConcurrentMessageLimit = 1;
                e.PrefetchCount = 64;
                BusSetup.UseSingleActiveConsumer(e);
                if (e is IRabbitMqReceiveEndpointConfigurator rabbit)
                {
                    // Shared out by PartitionBalancer: it needs the partition's channel (a hand-over closes it)
                    // and each registration with the broker; the tag shows in the broker which process is active.
                    rabbit.OverrideConsumerTag(self.ConsumerTag(p));
                    rabbit.ConfigureChannel(c => c.UseFilter(new PartitionChannelFilter(consumers, p)));
                    e.ConnectReceiveEndpointObserver(consumers.Observer(p, membership.Registrations));
                }
                e.ConfigureConsumer<SubmitChatMessagesConsumer>(context);
            });
        }
    }

    public static WebApplication MapMessaging(this WebApplication app) => app;
}
