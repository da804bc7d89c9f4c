using EasyIm.Chat;

return await ChatCli.Build().Parse(args).InvokeAsync();
