using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace EasyIm.Messaging.Data.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class Retention : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<long>(
                name: "pruned_through_seq",
                schema: "messaging",
                table: "conversations",
                type: "bigint",
                nullable: false,
                defaultValue: 0L);

            migrationBuilder.CreateIndex(
                name: "IX_messages_chat_type_sent_at",
                schema: "messaging",
                table: "messages",
                columns: new[] { "chat_type", "sent_at" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_messages_chat_type_sent_at",
                schema: "messaging",
                table: "messages");

            migrationBuilder.DropColumn(
                name: "pruned_through_seq",
                schema: "messaging",
                table: "conversations");
        }
    }
}
