using EasyIm.Friends.Events;
using EasyIm.Friends.Consumers;
using EasyIm.Friends.Data;
using EasyIm.Friends.Groups;
using EasyIm.Friends.Users;
using EasyIm.Hosting.Database;
using EasyIm.Hosting.Ids;
using EasyIm.Hosting.Outbox;
using EasyIm.Hosting.Presence;
using MassTransit;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;

namespace EasyIm.Friends;

public static class FriendsModule
{
    /// <summary>Friendships, friend requests, groups and user search: the friends database, its id generator, the users projection.</summary>
    public static IHostApplicationBuilder AddFriends(this IHostApplicationBuilder builder)
    {
        builder.AddServiceDatabase<FriendsDbContext, SqliteFriendsDbContext, PostgresFriendsDbContext>(FriendsDbContext.Service);
        builder.AddSnowflakeIds<FriendsDbContext>(FriendsDbContext.Service);
        builder.Services.AddSingleton(FriendsOptions.Read(builder.Configuration));
        builder.AddOutbox<FriendsDbContext>();
        // Pushes go to the gateways holding their users (the outbox's PushToUsers included).
        builder.Services.AddGatewayPresence(builder.Configuration);
        builder.Services.AddFriendsServices();
        return builder;
    }

    /// <summary>What the consumers need besides the database and the ids (which tests provide their own way).</summary>
    internal static IServiceCollection AddFriendsServices(this IServiceCollection services)
    {
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(new FriendsOptions());
        services.AddScoped<UserDirectory>();
        services.AddScoped<GroupLimits>();
        services.AddScoped<MessagingProjection>();
        services.AddScoped<UpdateStream>();
        services.AddGatewayPresence();
        // Tests that build their own container get the outbox without its relay (AddOutbox adds both).
        services.TryAddSingleton(new OutboxOptions());
        if (!services.Any(d => d.ServiceType == typeof(Outbox<FriendsDbContext>)))
            services.AddScoped<Outbox<FriendsDbContext>>();
        return services;
    }

    public static void AddFriendsConsumers(IBusRegistrationConfigurator bus)
    {
        Add<SendFriendRequestConsumer>(bus);
        Add<AcceptFriendRequestConsumer>(bus);
        Add<RejectFriendRequestConsumer>(bus);
        Add<RemoveFriendConsumer>(bus);
        Add<ListFriendsConsumer>(bus);
        Add<ListFriendRequestsConsumer>(bus);
        Add<SearchUsersConsumer>(bus);
        Add<CreateGroupConsumer>(bus);
        Add<InviteToGroupConsumer>(bus);
        Add<LeaveGroupConsumer>(bus);
        Add<RemoveFromGroupConsumer>(bus);
        Add<ListGroupsConsumer>(bus);
        Add<ListGroupMembersConsumer>(bus);
        Add<UpdateGroupSettingsConsumer>(bus);
        Add<ProjectRegisteredUserConsumer>(bus);
        Add<PushPendingInvitationsConsumer>(bus);
        Add<CheckRelationshipsConsumer>(bus);
        Add<BlockListConsumer>(bus);
        PresenceSetup.AddTrackGatewayPresence(bus);
    }

    private static void Add<TConsumer>(IBusRegistrationConfigurator bus) where TConsumer : class, IConsumer =>
        bus.AddConsumer<TConsumer, FriendsConsumerDefinition<TConsumer>>();

    public static WebApplication MapFriends(this WebApplication app) => app;
}
