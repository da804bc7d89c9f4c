using EasyIm.Server;

return await Cli.Build().Parse(args).InvokeAsync();
