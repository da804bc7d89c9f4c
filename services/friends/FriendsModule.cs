using MassTransit;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Hosting;

namespace EasyIm.Friends;

public static class FriendsModule
{
    public static IHostApplicationBuilder AddFriends(this IHostApplicationBuilder builder) => builder;

    public static void AddFriendsConsumers(IBusRegistrationConfigurator bus)
    {
    }

    public static WebApplication MapFriends(this WebApplication app) => app;
}
