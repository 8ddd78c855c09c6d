import { Room } from "./room";

export default function Page() {
  return <Room url={process.env.NEXT_PUBLIC_PLAZA_URL ?? "ws://127.0.0.1:8080/ws"} />;
}
