using MassTransit;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Hosting;

namespace EasyIm.Messaging;

public static class MessagingModule
{
    public static IHostApplicationBuilder AddMessaging(this IHostApplicationBuilder builder) => builder;

    public static void AddMessagingConsumers(IBusRegistrationConfigurator bus)
    {
    }

    public static WebApplication MapMessaging(this WebApplication app) => app;
}
